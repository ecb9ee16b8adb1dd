import { agent } from './agent.js';
import { audit } from './audit.js';
import { embargo } from './embargo.js';
import { groups } from './groups.js';
import { halt } from './halt.js';
import { keygen } from './keygen.js';
import { log } from './log.js';
import { owner } from './owner.js';
import { publish } from './publish.js';
import { rollout } from './rollout.js';
import { root } from './root.js';
import { serve } from './serve.js';
import type { Command } from './spec.js';
import { vendor } from './vendor.js';
import { witness } from './witness.js';

/** Every command, in the order the top-level help lists them. */
export const COMMANDS: readonly Command[] = [
  serve,
  keygen,
  vendor,
  groups,
  owner,
  embargo,
  publish,
  rollout,
  halt,
  root,
  log,
  agent,
  audit,
  witness,
];
