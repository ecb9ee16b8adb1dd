import { setMaxListeners } from 'node:events';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../agent/agent.js';
import { installEnrollment, readEnrollment } from '../agent/enrollment-file.js';
import { loadIdentity } from '../agent/identity.js';
import { systemClock } from '../common/clock.js';
import type { OwnersByGroup } from '../common/enrollment.js';
import { certifyAgent, generateOwnerKey, readOwnerKey } from '../keys/owner-key.js';

// The first-run demo's customers: a few real agents per group, each vouched for by its group's demo
// owner, polling the node over HTTP like any customer machine. They are what makes the dashboard and
// `fairpatch audit` say FAIR, with each group's delivery, within a minute of `npm start`: without
// them there is no evidence, and an honest audit can only say CANNOT_VERIFY. Demo only: the owner
// keys live in the data directory beside the agents they certify, which a real owner never does.

export const DEMO_GROUPS = ['eu-west', 'us-east', 'ap-south'] as const;

const YEAR_MS = 365 * 86_400_000;

export interface DemoFleetOptions {
  /** The node, as the agents reach it. */
  server: string;
  /** Where the demo's owner keys and agent state directories are kept (under the node's data dir). */
  dir: string;
  /** The trusted root the agents start from. */
  root: string;
  groups?: readonly string[];
  perGroup?: number;
  /** Poll interval while an agent's event stream is down. */
  intervalMs?: number;
  log: (line: string) => void;
}

type OwnerKey = ReturnType<typeof readOwnerKey>;

/**
 * The demo groups' owner keys (made on first use, mode 0600, under `dir`), and the declaration the
 * operator makes of them: every agent they certify is vouched.
 */
export function demoOwners(
  dir: string,
  groups: readonly string[] = DEMO_GROUPS,
): { owners: OwnersByGroup; keys: Map<string, OwnerKey> } {
  mkdirSync(join(dir, 'owners'), { recursive: true, mode: 0o700 });
  const owners: Record<string, { keys: string[]; quorum: number }> = {};
  const keys = new Map<string, OwnerKey>();
  for (const group of groups) {
    const file = join(dir, 'owners', `${group}.key`);
    if (!existsSync(file)) generateOwnerKey(file);
    const key = readOwnerKey(file);
    keys.set(group, key);
    owners[group] = { keys: [Buffer.from(key.publicKey).toString('hex')], quorum: 1 };
  }
  return { owners, keys };
}

/** Starts the demo agents; `stop` ends their loops and waits for them. */
export function startDemoFleet(options: DemoFleetOptions): {
  agents: number;
  stop: () => Promise<void>;
} {
  const groups = [...(options.groups ?? DEMO_GROUPS)];
  const perGroup = options.perGroup ?? 3;
  const { keys: ownerKeys } = demoOwners(options.dir, groups);

  const stop = new AbortController();
  // Every agent waits on this one signal (its sleeps, its event stream).
  setMaxListeners(4 * groups.length * perGroup + 10, stop.signal);
  const running: Array<Promise<void>> = [];
  for (const group of groups) {
    for (let i = 1; i <= perGroup; i++) {
      const name = `${group}-${i}`;
      const stateDir = join(options.dir, 'agents', name);
      mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      const identity = loadIdentity(stateDir);
      if (!readEnrollment(stateDir)) {
        const now = systemClock.now();
        const certificate = certifyAgent(ownerKeys.get(group)!, {
          group,
          agent: identity.publicKey,
          from: now - 60_000,
          to: now + YEAR_MS,
        });
        installEnrollment(stateDir, JSON.stringify(certificate), {
          publicKey: identity.publicKey,
          group,
        });
      }
      const agent = new Agent(
        {
          server: options.server,
          group,
          root: options.root,
          stateDir,
          vendor: 'acme',
          product: 'acme-agent',
          platform: 'linux-x64',
          currentVersion: '2.4.0',
          channel: 'stable',
          intervalMs: options.intervalMs ?? 10_000,
        },
        {
          clock: systemClock,
          // What a reader of the demo wants to see: installs and refusals, not every poll.
          log: (line) => {
            if (/installed|REFUSED|failed|withdrawn/i.test(line))
              options.log(`demo agent ${name}: ${line}`);
          },
        },
      );
      running.push(agent.run(stop.signal).catch(() => {}));
    }
  }
  return {
    agents: running.length,
    stop: async () => {
      stop.abort();
      await Promise.all(running);
    },
  };
}
