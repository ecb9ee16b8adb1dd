import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../src/agent/agent.js';
import { installEnrollment } from '../../src/agent/enrollment-file.js';
import type { KeyPair } from '../../src/tuf/keys.js';
import type { Manifest } from '../../src/publish/manifest.js';
import { parseVerifierKey } from '../../src/log/note.js';
import { type FairpatchNode, createNode } from '../../src/server/node.js';
import type { GroupOwners } from '../helpers/owners.js';
import {
  type Fixture,
  MINUTE,
  NO_RATE_LIMITS,
  SECOND,
  createFixture,
  listen,
} from '../helpers/repo.js';
import { startWitness } from '../helpers/witness.js';

// The set-up every staged-rollout test shares: a fixture, one witness cosigning the node's log, a
// node over HTTP, the vendor acme and one staged release of acme-agent 2.4.1 a minute from now; and
// real agents of that product that pin the log key and the witness.

export const HOUR = 60 * MINUTE;

export interface StagedRelease {
  fx: Fixture;
  /** The log's verifier key, as agents pin it. */
  logKey: string;
  witness: Awaited<ReturnType<typeof startWitness>>;
  /** The node serving now (restart swaps it). */
  node: FairpatchNode;
  /** The node over HTTP on 127.0.0.1. */
  url: string;
  vendor: { key: KeyPair; token: string };
  artifact: Awaited<ReturnType<Fixture['artifact']>>;
  releaseAt: number;
  /** Closes the node and opens another over the same data (a restart between stages). */
  restart(): Promise<FairpatchNode>;
}

export async function stagedRelease(
  cleanup: Array<() => Promise<void>>,
  input: {
    rollout: NonNullable<Manifest['rollout']>;
    /** The artifact's file name (default acme-agent-2.4.1.sh). */
    artifactName?: string;
    /** Declared with their owners before anything is staged. */
    owners?: { groups: string[]; owners: GroupOwners };
  },
): Promise<StagedRelease> {
  const fx = await createFixture();
  cleanup.push(() => fx.close());
  const logKey = fx.node.logVerifierKey;
  const witness = await startWitness(fx.keysDir, fx.clock, {
    logs: [{ url: 'unused', verifier: parseVerifierKey(logKey) }],
  });
  cleanup.push(() => witness.close());
  // Nodes opened here, not by the fixture: a restart closes one and opens the next on the same data.
  const open = () =>
    createNode({
      dataDir: fx.dataDir,
      keysDir: fx.keysDir,
      clock: fx.clock,
      ...NO_RATE_LIMITS,
      witnesses: [witness.url],
    });
  const s = { fx, logKey, witness } as StagedRelease;
  s.node = await open();
  cleanup.push(() => s.node.close());
  const http = await listen({ fetch: (request: Request) => s.node.app.fetch(request) });
  cleanup.push(() => http.close());
  s.url = http.url;
  s.restart = async () => {
    await s.node.sequencer.idle();
    const old = s.node;
    s.node = await open();
    await old.close();
    return s.node;
  };
  if (input.owners)
    await s.node.appDeps.declareGroups!(input.owners.groups, input.owners.owners.owners);
  s.vendor = await fx.addVendor('acme');
  s.artifact = await fx.artifact(
    input.artifactName ?? 'acme-agent-2.4.1.sh',
    '#!/bin/sh\necho patched\n',
  );
  s.releaseAt = fx.clock.now() + MINUTE;
  await s.node.repo.stageVendorMetadata(
    'acme',
    await fx.release(
      'acme',
      { applies_to: '<2.4.1', rollout: input.rollout },
      [s.artifact],
      s.releaseAt,
    ),
  );
  return s;
}

/** A real agent of acme-agent 2.3.0, pinning the log key and the witness unless `blind`. */
export function rolloutAgent(
  s: StagedRelease,
  input: {
    group: string;
    lines: string[];
    /** Another door to the node than the shared one. */
    server?: string;
    /** The group's owner vouches for the agent's key. */
    owners?: GroupOwners;
    /** No log key: it cannot verify a salt, so waits for the 100 % stage. */
    blind?: boolean;
    attempts?: number;
  },
): Agent {
  const stateDir = mkdtempSync(join(tmpdir(), 'fp-rollout-agent-'));
  const agent = new Agent(
    {
      server: input.server ?? s.url,
      group: input.group,
      root: join(s.fx.keysDir, '1.root.json'),
      stateDir,
      vendor: 'acme',
      product: 'acme-agent',
      platform: 'linux-x64',
      currentVersion: '2.3.0',
      channel: 'stable',
      intervalMs: 10 * SECOND,
      ...(input.blind
        ? {}
        : {
            checkpoint: {
              logKey: s.logKey,
              witnesses: [s.witness.witness.verifierKey],
              threshold: 1,
              everyMs: HOUR,
            },
          }),
    },
    {
      clock: s.fx.clock,
      log: (l) => input.lines.push(l),
      fetcher: { attempts: input.attempts ?? 1, backoffMs: 1, timeoutMs: 5000 },
    },
  );
  if (input.owners)
    installEnrollment(
      stateDir,
      JSON.stringify(input.owners.certify(input.group, agent.identity.publicKey)),
      { publicKey: agent.identity.publicKey, group: input.group },
    );
  return agent;
}
