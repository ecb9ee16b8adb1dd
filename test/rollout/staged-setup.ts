import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../src/agent/agent.js';
import { installEnrollment } from '../../src/agent/enrollment-file.js';
import { type AuditOutcome, runAudit } from '../../src/audit/run.js';
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
  readRoot,
} from '../helpers/repo.js';
import { until } from '../helpers/until.js';
import { startWitness } from '../helpers/witness.js';

// The set-up every staged-rollout test shares: a fixture, one witness cosigning the node's log, a
// node over HTTP, the vendor acme and one staged release of acme-agent 2.4.1 a minute from now; and
// real agents of that product that pin the log key and the witness.

export const HOUR = 60 * MINUTE;

/** The plan most tests stage: 10 %, 50 % after an hour, everyone after two. */
export const THREE_STAGES = [
  { percent: 10, after: '0s' },
  { percent: 50, after: '1h' },
  { percent: 100, after: '2h' },
];

/** `percent` at the release's tick, everyone an hour later. */
export const twoStages = (percent: number) => [
  { percent, after: '0s' },
  { percent: 100, after: '1h' },
];

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
  /** Opens another node over the same database and keys (the caller closes it). */
  open(): Promise<FairpatchNode>;
}

export async function stagedRelease(
  cleanup: Array<() => Promise<void>>,
  input: {
    rollout: NonNullable<Manifest['rollout']>;
    /** The artifact's file name (default acme-agent-2.4.1.sh). */
    artifactName?: string;
    /** Declared with their owners before anything is staged. */
    owners?: { groups: string[]; owners: GroupOwners };
    /** A PostgreSQL database (freshDatabase); default SQLite in the data dir. */
    databaseUrl?: string | undefined;
  },
): Promise<StagedRelease> {
  const database = input.databaseUrl ? { databaseUrl: input.databaseUrl } : {};
  const fx = await createFixture(database);
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
      ...database,
    });
  const s = { fx, logKey, witness, open } as StagedRelease;
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
    /** The install command (default: none, the artifact is kept). */
    install?: string;
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
      ...(input.install ? { install: input.install } : {}),
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

/** Waits until a checkpoint holding the release's activation is cosigned: the salt exists. */
export async function saltReady(
  s: StagedRelease,
  target = 'acme/acme-agent-2.4.1.sh',
): Promise<void> {
  await until('a checkpoint holding the activation is cosigned', async () => {
    const r = await s.node.app.request(`/log/rollout-salt?target=${encodeURIComponent(target)}`);
    if (r.status !== 200) return undefined;
    const body = (await r.json()) as { checkpoints: Array<{ note: string }> };
    return body.checkpoints.some((c) => c.note.includes('\u2014 witness/')) ? true : undefined;
  });
}

/**
 * The auditor's verdict now, once the node's roll-up is in and the witness cosigned the whole log
 * (a witnessed node serves the newest cosigned checkpoint: the audit reads the log up to it).
 */
export async function auditStaged(s: StagedRelease, server = s.url): Promise<AuditOutcome> {
  await s.node.evidence.rollup();
  await s.node.sequencer.idle();
  const { size } = await s.node.log.head();
  await until('the whole log is cosigned', async () => {
    const note = await (await s.node.app.request('/log/checkpoint')).text();
    // With no cosigned checkpoint among its newest, the node serves the newest as it is: wait for
    // the witness's line too, or a busy run audits an uncosigned checkpoint.
    return Number(note.split('\n')[1]) === size && note.includes('\u2014 witness/')
      ? true
      : undefined;
  });
  return runAudit({
    server,
    stateDir: mkdtempSync(join(tmpdir(), 'fp-rollout-audit-')),
    logKey: s.logKey,
    root: readRoot(s.fx.keysDir),
    now: s.fx.clock.now(),
    cosigners: { keys: [s.witness.witness.verifierKey], threshold: 1 },
    witnessLogs: [{ url: s.witness.url, vkey: s.witness.witness.verifierKey }],
  });
}
