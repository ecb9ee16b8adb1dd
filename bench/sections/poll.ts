import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BenchRepo } from '../lib/repo.js';
import { median, startProcess, wrk, type WrkResult } from '../lib/proc.js';
import { startCluster } from '../lib/postgres-cluster.js';
import { freshPostgres } from '../lib/postgres.js';
import { RESULTS, replaceSection } from '../lib/sections.js';

export interface PollResult {
  label: string;
  fairpatch: { rps: number; p50ms: number; p99ms: number; errors: number };
  bare: { rps: number; p50ms: number; p99ms: number; errors: number };
  ratio: number;
}

const summarize = (runs: WrkResult[]) => ({
  rps: median(runs.map((r) => r.rps)),
  p50ms: median(runs.map((r) => r.p50ms)),
  p99ms: median(runs.map((r) => r.p99ms)),
  errors: runs.reduce((a, r) => a + r.errors, 0),
});

/**
 * Poll throughput of /g/<group>/metadata/timestamp.json (accounting on) against a bare Hono route
 * serving the same bytes, same load generator, alternating runs; median of `runs`.
 */
export async function pollBenchmark(
  label: string,
  env: Record<string, string> = {},
  runs = 3,
  seconds = 5,
): Promise<PollResult> {
  const repo = new BenchRepo();
  const node = await repo.node('poll', [], env);
  const bytes = Buffer.from(
    await (await fetch(`${node.url}/g/bench/metadata/timestamp.json`)).arrayBuffer(),
  );
  const file = join(repo.dir, 'timestamp.json');
  writeFileSync(file, bytes);
  const bare = await startProcess([new URL('../bare-server.js', import.meta.url).pathname, file]);
  const ours: WrkResult[] = [];
  const theirs: WrkResult[] = [];
  try {
    const path = '/g/eu-west/metadata/timestamp.json';
    await wrk(node.url + path, { connections: 100, seconds: 1 }); // warm-up
    await wrk(bare.url + path, { connections: 100, seconds: 1 });
    for (let i = 0; i < runs; i++) {
      ours.push(await wrk(node.url + path, { connections: 100, seconds }));
      theirs.push(await wrk(bare.url + path, { connections: 100, seconds }));
    }
  } finally {
    await bare.stop();
    await node.stop();
    repo.cleanup();
  }
  const fairpatch = summarize(ours);
  const baseline = summarize(theirs);
  return { label, fairpatch, bare: baseline, ratio: fairpatch.rps / baseline.rps };
}

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');

/** The poll section of bench/RESULTS.md. */
export function pollSection(polls: readonly PollResult[]): string[] {
  return [
    '## Poll throughput: `/g/<group>/metadata/timestamp.json`, accounting on, vs a bare Hono route serving the same bytes',
    '',
    '| database | fairpatch req/s | bare Hono req/s | ratio (target ≥ 0.95) | fairpatch p50 / p99 ms | bare p50 / p99 ms | errors |',
    '|---|---|---|---|---|---|---|',
    ...polls.map(
      (p) =>
        `| ${p.label} | ${f(p.fairpatch.rps, 0)} | ${f(p.bare.rps, 0)} | ${f(p.ratio, 3)} | ${f(p.fairpatch.p50ms, 2)} / ${f(p.fairpatch.p99ms, 2)} | ${f(p.bare.p50ms, 2)} / ${f(p.bare.p99ms, 2)} | ${p.fairpatch.errors + p.bare.errors} |`,
    ),
  ];
}

/** `npm run bench -- poll`: over SQLite, then PostgreSQL; rewrites its section of RESULTS.md. */
export async function run(): Promise<void> {
  const cluster = process.env.DATABASE_URL ? undefined : await startCluster();
  try {
    const admin = process.env.DATABASE_URL ?? cluster!.url;
    const lines = pollSection([
      await pollBenchmark('SQLite'),
      await pollBenchmark('PostgreSQL', { DATABASE_URL: await freshPostgres(admin) }),
    ]);
    console.log(lines.join('\n'));
    replaceSection(RESULTS, '## Poll throughput', lines);
  } finally {
    cluster?.stop();
  }
}
