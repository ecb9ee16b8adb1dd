import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519PublicKey } from '../../src/common/ed25519.js';
import { signObservation } from '../../src/common/observation.js';
import { DashboardRebuild } from '../../src/http/dashboard-rebuild.js';
import { generateRepositoryKeys } from '../../src/keys/keygen.js';
import { type Leaf, leafBytes } from '../../src/log/leaves.js';
import { type FairpatchNode, createNode } from '../../src/server/node.js';
import { NODE_DEFAULTS } from '../../src/server/config.js';
import { canonicalBytes } from '../../src/common/canonical.js';
import { sha256Hex } from '../../src/tuf/metadata.js';
import { listen } from '../lib/listen.js';
import { RESULTS, replaceSection } from '../lib/sections.js';

// The dashboard's rebuild (src/http/dashboard-rebuild.ts) on a large log and on the log a junk-receipt
// flood leaves behind (issue 23): how long the first rebuild takes, what it adds to the process's
// RSS, and whether it covers the whole log or stops at its bound (dashboardMaxLogBytes) and says so.

export interface RebuildFigures {
  leaves: number;
  logMiB: number;
  seconds: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  /** The heap the dashboard keeps after the rebuild (collected before and after). */
  heapRetainedMiB: number;
  /** The leaves the page covers; fewer than `leaves` when it stopped at its bound. */
  covered: number;
  stale: string | null;
}

export interface FloodFigures {
  sent: number;
  accepted: number;
  refused: number;
  seconds: number;
  logGrowthMiB: number;
  rebuild: RebuildFigures;
}

export interface DashboardResult {
  large: RebuildFigures;
  flood: FloodFigures;
  maxLogBytes: number;
}

const MiB = 1024 * 1024;
const rssMiB = () => process.memoryUsage.rss() / MiB;
const seconds = (t0: number) => (performance.now() - t0) / 1000;
const gc = () => (globalThis as { gc?: () => void }).gc?.();

/** The bytes of every leaf of the node's log, summed by the database (nothing read into memory). */
async function logBytes(node: FairpatchNode): Promise<number> {
  const row = await node.db
    .selectFrom('log_leaves')
    .select(sql<number>`coalesce(sum(length(data)), 0)`.as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function withNode<T>(
  options: Parameters<typeof createNode>[0] extends infer O ? Partial<O> : never,
  run: (node: FairpatchNode) => Promise<T>,
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-dashboard-'));
  const keysDir = join(dir, 'keys');
  generateRepositoryKeys({ dir: keysDir, now: Date.now() });
  const node = await createNode({ dataDir: join(dir, 'data'), keysDir, ...options });
  try {
    return await run(node);
  } finally {
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One first rebuild of the node's dashboard, from nothing, as after a restart. */
async function rebuild(node: FairpatchNode, maxLogBytes: number): Promise<RebuildFigures> {
  const { size } = await node.log.head();
  const logMiB = (await logBytes(node)) / MiB;
  gc();
  const rssBeforeMiB = rssMiB();
  const heapBefore = process.memoryUsage().heapUsed;
  const dashboard = new DashboardRebuild({ repo: node.repo, log: node.log, maxLogBytes });
  const t0 = performance.now();
  await dashboard.kick();
  const took = seconds(t0);
  const rssAfterMiB = rssMiB();
  gc();
  const heapRetainedMiB = (process.memoryUsage().heapUsed - heapBefore) / MiB;
  const status = dashboard.status() as { log_size: number | null };
  const stale = dashboard.stale?.reason ?? null;
  // Past its bound the first rebuild has no page: the leaves it read are what it covers.
  const covered = status.log_size ?? Number(/below leaf (\d+)/.exec(stale ?? '')?.[1] ?? 0);
  return {
    leaves: size,
    logMiB,
    seconds: took,
    rssBeforeMiB,
    rssAfterMiB,
    heapRetainedMiB,
    covered,
    stale,
  };
}

/** A log of `count` leaves as a busy node writes them: roll-ups of 8 groups, a receipt batch every 100. */
async function largeLog(node: FairpatchNode, count: number): Promise<void> {
  const k0 = node.repo.currentTick();
  const document = JSON.parse(node.repo.view.timestampAt(k0).toString()) as Record<string, unknown>;
  const digest = sha256Hex(canonicalBytes(document));
  const agents = Array.from({ length: 100 }, () => {
    const seed = randomBytes(32);
    return { seed, key: ed25519PublicKey(seed).toString('hex') };
  });
  const at = new Date().toISOString();
  let written = (await node.log.head()).size;
  let batch: Array<{ dedupe: string; data: Buffer }> = [];
  for (let i = written; i < count; i++) {
    let leaf: Leaf;
    if (i % 100 === 0) {
      const receipts = agents.slice(0, 10).map((a, j) =>
        signObservation(
          {
            v: 1,
            agent: a.key,
            group: `g${j % 8}`,
            document: digest,
            first_at: at,
            last_at: at,
            polls: 1 + (i % 5),
            via: '/g/x',
            lag_ms: 40,
          },
          a.seed,
        ),
      );
      leaf = {
        type: 'receipts.batch',
        v: 2,
        documents: i === 0 ? { [digest]: canonicalBytes(document).toString() } : {},
        receipts,
      };
    } else
      leaf = {
        type: 'delivery.rollup',
        v: 1,
        node: 'bench-1',
        from_tick: k0 + i,
        to_tick: k0 + i + 60,
        groups: Object.fromEntries(
          Array.from({ length: 8 }, (_, g) => [
            `g${g}`,
            {
              polls: 60,
              versions: { '1': { polls: 60, first_tick: k0 + i, last_tick: k0 + i + 60 } },
            },
          ]),
        ),
      };
    batch.push({ dedupe: `bench:${i}`, data: leafBytes(leaf) });
    if (batch.length === 10_000) {
      await node.sequencer.appendAll(batch);
      written += batch.length;
      batch = [];
    }
  }
  if (batch.length > 0) await node.sequencer.appendAll(batch);
}

/**
 * The flood of the report: one client, no credentials, a fresh key and a fresh group name per
 * receipt, posted over HTTP as fast as it goes. With the intake's budgets most are refused (429);
 * what gets in is what the dashboard then reads.
 */
async function flood(
  node: FairpatchNode,
  receipts: number,
): Promise<Omit<FloodFigures, 'rebuild'>> {
  const server = await listen(node.app);
  try {
    const document = JSON.parse(
      node.repo.view.timestampAt(node.repo.currentTick()).toString(),
    ) as Record<string, unknown>;
    const digest = sha256Hex(canonicalBytes(document));
    const before = await logBytes(node);
    const bodies = Array.from({ length: receipts }, (_, i) => {
      const seed = randomBytes(32);
      const at = new Date().toISOString();
      return JSON.stringify({
        documents: { [digest]: document },
        receipts: [
          signObservation(
            {
              v: 1,
              agent: ed25519PublicKey(seed).toString('hex'),
              group: `junk-${i}`,
              document: digest,
              first_at: at,
              last_at: at,
              polls: 1,
              via: '/g/junk',
              lag_ms: 0,
            },
            seed,
          ),
        ],
      });
    });
    let accepted = 0;
    let refused = 0;
    let next = 0;
    const t0 = performance.now();
    const client = async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        const response = await fetch(`${server.url}/api/v1/receipts`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        await response.arrayBuffer();
        if (response.status === 201) accepted++;
        else refused++;
      }
    };
    await Promise.all(Array.from({ length: 16 }, client));
    const took = seconds(t0);
    await node.sequencer.idle();
    const after = await logBytes(node);
    return {
      sent: receipts,
      accepted,
      refused,
      seconds: took,
      logGrowthMiB: (after - before) / MiB,
    };
  } finally {
    await server.close();
  }
}

export async function dashboardBenchmark(
  options: { leaves?: number; floodReceipts?: number } = {},
): Promise<DashboardResult> {
  const maxLogBytes = NODE_DEFAULTS.dashboardMaxLogBytes;
  const leaves = options.leaves ?? Number(process.env.BENCH_DASHBOARD_LEAVES ?? 1_000_000);
  const floodReceipts =
    options.floodReceipts ?? Number(process.env.BENCH_DASHBOARD_FLOOD ?? 40_000);
  const large = await withNode({}, async (node) => {
    await largeLog(node, leaves);
    return rebuild(node, maxLogBytes);
  });
  // The node as it runs by default, but for the per-address limit: the flood's one address would
  // otherwise be stopped there first, and this measures what the intake's own budgets let through.
  const floodFigures = await withNode(
    { agentPerAddressPerSecond: 1e9, agentPerAddressBurst: 1e9 },
    async (node) => {
      const figures = await flood(node, floodReceipts);
      return { ...figures, rebuild: await rebuild(node, maxLogBytes) };
    },
  );
  return { large, flood: floodFigures, maxLogBytes };
}

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');

export function dashboardSection(r: DashboardResult, command: string): string[] {
  const row = (name: string, x: RebuildFigures) =>
    `| ${name} | ${x.leaves.toLocaleString('en')} | ${f(x.logMiB)} | ${f(x.seconds, 2)} | ${f(x.rssBeforeMiB)} → ${f(x.rssAfterMiB)} | ${f(x.heapRetainedMiB)} | ${x.covered.toLocaleString('en')} | ${x.stale ? x.stale.replace(/\|/g, '/') : 'no'} |`;
  return [
    '## Dashboard rebuild',
    '',
    `\`${command}\`, ${new Date().toISOString()}. The first rebuild of a node's dashboard (src/http/dashboard-rebuild.ts), from nothing, on SQLite; its bound is dashboardMaxLogBytes = ${f(r.maxLogBytes / MiB, 0)} MiB of leaves.`,
    '',
    '| log | leaves | leaf MiB | rebuild s | RSS MiB (before → after) | heap kept MiB | leaves covered | stale |',
    '|---|---|---|---|---|---|---|---|',
    row('large (roll-ups, a receipt batch every 100)', r.large),
    row('after the junk-receipt flood', r.flood.rebuild),
    '',
    `The flood: ${r.flood.sent.toLocaleString('en')} receipts, each from a fresh key naming a fresh group, over HTTP with 16 connections in ${f(r.flood.seconds)} s: ${r.flood.accepted.toLocaleString('en')} accepted, ${r.flood.refused.toLocaleString('en')} refused (429: the unvouched pool and the byte budget); the log grew ${f(r.flood.logGrowthMiB, 2)} MiB.`,
  ];
}

/**
 * `npm run bench -- dashboard`: the rebuild on a large log and after a junk-receipt flood; rewrites
 * its section of RESULTS.md. BENCH_DASHBOARD_LEAVES and BENCH_DASHBOARD_FLOOD set the sizes
 * (1,000,000 and 40,000).
 */
export async function run(): Promise<void> {
  const lines = dashboardSection(await dashboardBenchmark(), 'npm run bench -- dashboard');
  for (const line of lines) console.log(line);
  replaceSection(RESULTS, '## Dashboard rebuild', lines);
}
