import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRepositoryKeys } from '../../src/keys/keygen.js';
import type { HashedArtifact } from '../../src/publish/build.js';
import { startServer } from '../helpers/cli.js';
import { type Cluster, startCluster } from '../helpers/postgres-cluster.js';
import { type TestVendor, registerVendor, stageRelease, uploadArtifact } from '../helpers/nodes.js';
import { freshAgentReceipt } from '../helpers/receipts.js';
import { tufClient } from '../helpers/tuf-client.js';
import { until } from '../helpers/until.js';

const OPERATOR = 'outage-operator-token-0123456789abc';
const LEAD_MS = 5000;
type Node = Awaited<ReturnType<typeof startServer>>;

interface Poll {
  at: number;
  node: number;
  status: number;
  tick?: number;
  snapshot?: number;
  digest?: string;
  error?: { code: string; details?: { state_age_ms: number; max_state_age_ms: number } };
}

/** Polls every node's timestamp.json until stopped; a failed connection is recorded as status 0. */
function pollers(nodes: Node[]): { polls: Poll[]; stop(): Promise<void> } {
  const polls: Poll[] = [];
  let running = true;
  const loops = nodes.map(async (node, i) => {
    while (running) {
      const at = Date.now();
      try {
        const response = await fetch(`${node.url}/g/group-${i}/metadata/timestamp.json`, {
          signal: AbortSignal.timeout(10_000),
        });
        const bytes = Buffer.from(await response.arrayBuffer());
        const body = JSON.parse(bytes.toString()) as {
          signed?: { version: number; meta: { 'snapshot.json': { version: number } } };
          error?: Poll['error'];
        };
        polls.push(
          body.signed
            ? {
                at,
                node: i,
                status: response.status,
                tick: body.signed.version,
                snapshot: body.signed.meta['snapshot.json'].version,
                digest: createHash('sha256').update(bytes).digest('hex'),
              }
            : {
                at,
                node: i,
                status: response.status,
                ...(body.error ? { error: body.error } : {}),
              },
        );
      } catch {
        polls.push({ at, node: i, status: 0 });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  return {
    polls,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

const health = async (node: Node) =>
  (await (await fetch(`${node.url}/healthz`)).json()) as {
    ok: boolean;
    problems: string[];
    state_age_ms: number;
    max_state_age_ms: number;
    database: { reachable: boolean; error?: string };
  };

describe('two nodes outlive their database', () => {
  let cluster: Cluster;
  let dir: string;
  let nodes: Node[] = [];
  let acme: TestVendor;
  let artifact: HashedArtifact;

  beforeAll(async () => {
    // A cluster of this test's own: it is stopped and started again.
    cluster = await startCluster();
    dir = mkdtempSync(join(tmpdir(), 'fairpatch-outage-'));
    generateRepositoryKeys({ dir: join(dir, 'keys'), now: Date.now() });
    const env = { DATABASE_URL: cluster.url, FAIRPATCH_OPERATOR_TOKEN: OPERATOR };
    nodes = await Promise.all(
      ['one', 'two'].map((name) =>
        startServer(
          [
            '--data',
            join(dir, `data-${name}`),
            '--keys',
            join(dir, 'keys'),
            '--min-lead',
            `${LEAD_MS / 1000}s`,
            '--node-name',
            name,
          ],
          { env },
        ),
      ),
    );
    acme = await registerVendor(nodes[0]!.url, OPERATOR, join(dir, 'keys'), 'acme');
  }, 90_000);
  afterAll(async () => {
    for (const n of nodes) await n.stop();
    cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pg_terminate_backend on every connection: no node exits, polls keep answering, writes resume', async () => {
    const traffic = pollers(nodes);
    const admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    try {
      for (let round = 0; round < 3; round++) {
        const { rows } = await admin.query(
          'SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database()',
        );
        expect(rows.length, `round ${round}: the nodes held connections`).toBeGreaterThan(0);
        // Each node reconnects by itself: its next refresh reads the database again.
        const after = Date.now();
        for (const node of nodes)
          await until('a refresh after the termination', async () =>
            (await health(node)).state_age_ms < Date.now() - after ? true : undefined,
          );
      }
    } finally {
      await admin.end();
    }
    // A write through the node whose connections were all cut: retryable until a fresh connection is up.
    artifact = await until('an upload to succeed', () =>
      uploadArtifact(nodes[1]!.url, acme, {
        file: join(dir, 'fix.sh'),
        content: 'echo fixed\n',
        name: 'acme-agent-2.4.1.sh',
      }),
    );
    await traffic.stop();
    for (const node of nodes) expect(node.process.exitCode, node.output()).toBeNull();
    expect(traffic.polls.length).toBeGreaterThan(10);
    expect(traffic.polls.filter((p) => p.status !== 200)).toEqual([]);
  }, 90_000);

  it('a PostgreSQL stop across a release tick: polls answered, 503 only past the lead time, the release served by every node once it is back', async () => {
    // A margin over the lead time: on a busy machine the upload itself takes a while.
    const staged = await stageRelease(nodes[0]!.url, acme, [artifact], {
      version: '2.4.1',
      releaseAt: Math.ceil((Date.now() + LEAD_MS + 3000) / 1000) * 1000,
    });
    const stagedAt = Date.now();
    // Every node holds the release before the database goes away.
    for (const node of nodes)
      await until('a refresh after staging', async () =>
        (await health(node)).state_age_ms < Date.now() - stagedAt ? true : undefined,
      );

    const traffic = pollers(nodes);
    const document = await (await fetch(`${nodes[1]!.url}/metadata/timestamp.json`)).json();
    cluster.halt();
    const stoppedAt = Date.now();

    // Writes fail at once, with a code and a time to retry.
    const upload = await fetch(`${nodes[0]!.url}/api/v1/vendors/acme/blobs/${'ab'.repeat(32)}`, {
      method: 'PUT',
      body: 'x',
      headers: { authorization: `Bearer ${acme.token}` },
    });
    expect(upload.status).toBe(503);
    expect(upload.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await upload.json()) as { error: { code: string } }).error.code).toBe(
      'DATABASE_UNAVAILABLE',
    );
    const receipt = await fetch(`${nodes[1]!.url}/api/v1/receipts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: freshAgentReceipt('g', document, '/').body,
    });
    expect(receipt.status).toBe(503);
    expect(((await receipt.json()) as { error: { code: string } }).error.code).toBe(
      'DATABASE_UNAVAILABLE',
    );

    // About 20 s without a database: past the lead time, every node says so.
    await until(
      '20 s of outage, and every node refusing a state older than the lead time',
      async () => {
        if (Date.now() - stoppedAt < 20_000) return undefined;
        const reports = await Promise.all(nodes.map(health));
        return reports.every((h) => !h.ok && !h.database.reachable) ? reports : undefined;
      },
      { timeoutMs: 60_000, everyMs: 250 },
    );
    for (const h of await Promise.all(nodes.map(health))) {
      expect(h.database.error).toMatch(/ECONNREFUSED|shutting down|terminat/);
      expect(h.problems.join()).toMatch(/older than/);
    }

    cluster.resume();
    for (const [i, node] of nodes.entries()) {
      const client = tufClient(node.url, `after-${i}`, join(dir, 'keys', '1.root.json'));
      const info = await until(
        `node ${i} to serve the release again`,
        async () => {
          const updater = client.updater();
          await updater.refresh();
          return (await updater.getTargetInfo('acme/acme-agent-2.4.1.sh')) ?? undefined;
        },
        { timeoutMs: 60_000, everyMs: 250 },
      );
      expect(readFileSync(await client.updater().downloadTarget(info), 'utf8')).toBe(
        'echo fixed\n',
      );
    }
    await until('polls answered again on every node', () =>
      nodes.every((_, i) => traffic.polls.filter((p) => p.node === i).at(-1)?.status === 200)
        ? true
        : undefined,
    );
    await traffic.stop();

    for (const node of nodes) expect(node.process.exitCode, node.output()).toBeNull();
    const { polls } = traffic;
    // Every poll was answered: from memory, or with a 503 naming the state's age.
    expect(polls.filter((p) => p.status !== 200 && p.status !== 503)).toEqual([]);
    for (const [i] of nodes.entries()) {
      expect(
        polls.some((p) => p.node === i && p.status === 200 && p.at > stoppedAt),
        `node ${i} served from memory after the stop`,
      ).toBe(true);
      expect(
        polls.some((p) => p.node === i && p.status === 503),
        `node ${i} refused once its state was too old`,
      ).toBe(true);
    }
    for (const p of polls.filter((p) => p.status === 503)) {
      expect(p.error?.code).toBe('NOT_READY');
      expect(p.error!.details!.state_age_ms).toBeGreaterThan(p.error!.details!.max_state_age_ms);
      expect(p.error!.details!.max_state_age_ms).toBeGreaterThanOrEqual(LEAD_MS - 1000);
      expect(p.error!.details!.max_state_age_ms).toBeLessThanOrEqual(LEAD_MS);
    }
    // Never a stale answer: one document per tick across nodes, and from the release tick on, the release.
    const ok = polls.filter((p) => p.status === 200);
    const byTick = new Map<number, Set<string>>();
    for (const p of ok) byTick.set(p.tick!, (byTick.get(p.tick!) ?? new Set()).add(p.digest!));
    for (const [tick, digests] of byTick) expect(digests.size, `tick ${tick}`).toBe(1);
    const carrying = ok.filter((p) => p.tick! >= staged.activationTick).map((p) => p.snapshot!);
    expect(carrying.length).toBeGreaterThan(0);
    expect(new Set(carrying).size).toBe(1);
    expect(Math.min(...carrying)).toBeGreaterThan(
      Math.max(...ok.filter((p) => p.tick! < staged.activationTick).map((p) => p.snapshot!)),
    );
  }, 150_000);
});
