import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { startNginx } from '../lib/nginx.js';
import { cpuMs, median, processTree, wrk, type WrkResult } from '../lib/proc.js';
import { BenchRepo } from '../lib/repo.js';
import { RESULTS, replaceSection } from '../lib/sections.js';

export interface WorkersResult {
  workers: number;
  /** Alternating pairs of runs (fairpatch then nginx, then the other way round), and their length. */
  pairs: number;
  seconds: number;
  fairpatch: WrkResult;
  single: WrkResult;
  nginx: WrkResult;
  /** Median of the pairs' req/s ratios, and the lowest and highest of them. */
  ratio: number;
  ratioRange: [number, number];
  /** CPU time per poll (every process of each server, user and system), µs, median of the pairs. */
  cpuPerPollUs: { fairpatch: number; nginx: number };
  /** Latency against load: both servers at each number of open connections (median of 3 runs). */
  sweep: Array<{ connections: number; fairpatch: WrkResult; nginx: WrkResult }>;
}

/**
 * Open connections for the latency sweep. A poll's latency here is mostly its wait in a queue (wrk
 * shares the 2 cores): at a given throughput it grows with the connections held open, so one figure
 * at 100 says little; the sweep shows up to which load each server keeps p99 under 10 ms.
 */
const SWEEP = [8, 16, 32, 64, 100, 200];

const PATH = '/g/eu-west/metadata/timestamp.json';
const summarize = (runs: WrkResult[]): WrkResult => ({
  rps: median(runs.map((r) => r.rps)),
  p50ms: median(runs.map((r) => r.p50ms)),
  p99ms: median(runs.map((r) => r.p99ms)),
  errors: runs.reduce((a, r) => a + r.errors, 0),
});

/** One wrk run, and the CPU time the server's processes spent on it per poll. */
async function measured(
  url: string,
  pid: number,
  connections: number,
  seconds: number,
): Promise<{ run: WrkResult; cpuUs: number }> {
  const pids = processTree(pid);
  const before = cpuMs(pids);
  const run = await wrk(url + PATH, { connections, seconds });
  return { run, cpuUs: ((cpuMs(pids) - before) * 1000) / (run.rps * seconds) };
}

/**
 * Polls of timestamp.json (accounting on) from `fairpatch serve --workers N` against nginx serving
 * the same bytes as a static file from N worker processes, with the same headers' weight and the
 * same load generator; one fairpatch worker for scale.
 *
 * On two cores shared with wrk, req/s moves by ±10 % from one run to the next for either server (the
 * machine's own pace drifts), more than the difference being measured. So the two servers are run
 * in `pairs` back-to-back pairs, the order swapped every pair so that a drift favours neither, and
 * the ratio is the median of the pairs' ratios, with its range. CPU time per poll, read from /proc
 * for every process of each server, is the second measure: what each poll costs whatever the cores'
 * sharing.
 */
export async function workersBenchmark(
  workers = availableParallelism(),
  pairs = 7,
  seconds = 3,
): Promise<WorkersResult> {
  const repo = new BenchRepo();
  const many = await repo.node('many', ['--workers', String(workers)], {}, 'many');
  const one = await repo.node('one', ['--workers', '1'], {}, 'one');
  const www = join(repo.dir, 'www');
  mkdirSync(join(www, 'g/eu-west/metadata'), { recursive: true });
  writeFileSync(join(www, PATH), Buffer.from(await (await fetch(many.url + PATH)).arrayBuffer()));
  // nginx as a static server: the same number of workers, keep-alive without a request cap (as
  // Node's), no access log (fairpatch writes none either), the origin's Cache-Control.
  const nginx = await startNginx(
    `server {
      listen 127.0.0.1:{{PORT}} reuseport backlog=4096;
      keepalive_requests 1000000;
      access_log off;
      location / { root ${www}; default_type application/json; add_header Cache-Control "public, max-age=0, s-maxage=0, must-revalidate"; }
    }`,
    { workers },
  );
  const servers = {
    fairpatch: { url: many.url, pid: many.process.pid! },
    nginx: { url: nginx.url, pid: nginx.process.pid! },
  };
  const ours: WrkResult[] = [];
  const theirs: WrkResult[] = [];
  const ratios: number[] = [];
  const cpu = { fairpatch: [] as number[], nginx: [] as number[] };
  const single: WrkResult[] = [];
  const sweep: WorkersResult['sweep'] = [];
  try {
    for (const url of [many.url, one.url, nginx.url])
      await wrk(url + PATH, { connections: 100, seconds: 2 }); // warm-up
    for (let i = 0; i < pairs; i++) {
      const order =
        i % 2 === 0 ? (['fairpatch', 'nginx'] as const) : (['nginx', 'fairpatch'] as const);
      const got: Partial<Record<'fairpatch' | 'nginx', WrkResult>> = {};
      for (const name of order) {
        const { run, cpuUs } = await measured(servers[name].url, servers[name].pid, 100, seconds);
        got[name] = run;
        cpu[name].push(cpuUs);
      }
      ours.push(got.fairpatch!);
      theirs.push(got.nginx!);
      ratios.push(got.fairpatch!.rps / got.nginx!.rps);
    }
    for (let i = 0; i < 3; i++)
      single.push(await wrk(one.url + PATH, { connections: 100, seconds }));
    for (const connections of SWEEP) {
      const a: WrkResult[] = [];
      const b: WrkResult[] = [];
      for (let i = 0; i < 3; i++) {
        a.push(await wrk(many.url + PATH, { connections, seconds: 3 }));
        b.push(await wrk(nginx.url + PATH, { connections, seconds: 3 }));
      }
      sweep.push({ connections, fairpatch: summarize(a), nginx: summarize(b) });
    }
  } finally {
    await nginx.stop();
    await many.stop();
    await one.stop();
    repo.cleanup();
  }
  return {
    workers,
    pairs,
    seconds,
    fairpatch: summarize(ours),
    single: summarize(single),
    nginx: summarize(theirs),
    ratio: median(ratios),
    ratioRange: [Math.min(...ratios), Math.max(...ratios)],
    cpuPerPollUs: { fairpatch: median(cpu.fairpatch), nginx: median(cpu.nginx) },
    sweep,
  };
}

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');

/** The section of bench/RESULTS.md this benchmark writes. */
export function workersSection(r: WorkersResult): string[] {
  return [
    `## Every core: \`serve --workers ${r.workers}\` against nginx serving the same bytes from ${r.workers} workers`,
    '',
    `Polls of \`${PATH}\` (accounting on) against nginx serving the same timestamp.json as a static file, ${r.workers} worker processes each, wrk with 100 connections on the same machine: ${r.pairs} pairs of ${r.seconds} s runs back to back, the order swapped every pair; medians of the pairs (fairpatch with 1 worker: median of 3 runs).`,
    '',
    '| server | req/s | p50 / p99 ms | errors |',
    '|---|---|---|---|',
    `| fairpatch, ${r.workers} workers | ${f(r.fairpatch.rps, 0)} | ${f(r.fairpatch.p50ms, 2)} / ${f(r.fairpatch.p99ms, 2)} | ${r.fairpatch.errors} |`,
    `| nginx static, ${r.workers} workers | ${f(r.nginx.rps, 0)} | ${f(r.nginx.p50ms, 2)} / ${f(r.nginx.p99ms, 2)} | ${r.nginx.errors} |`,
    `| fairpatch, 1 worker | ${f(r.single.rps, 0)} | ${f(r.single.p50ms, 2)} / ${f(r.single.p99ms, 2)} | ${r.single.errors} |`,
    '',
    `Ratio fairpatch / nginx, median of the ${r.pairs} pairs' ratios: ${f(r.ratio, 3)} (target ≥ 0.9): ${r.ratio >= 0.9 ? 'met' : '**not met**'}; the pairs ranged from ${f(r.ratioRange[0], 3)} to ${f(r.ratioRange[1], 3)}. fairpatch p99 ${f(r.fairpatch.p99ms, 2)} ms at 100 connections (target ≤ 10 ms): ${r.fairpatch.p99ms <= 10 ? 'met' : '**not met**'}.`,
    '',
    `CPU time per poll (user and system, every process of the server, from /proc; median of the pairs): fairpatch ${f(r.cpuPerPollUs.fairpatch, 2)} µs, nginx ${f(r.cpuPerPollUs.nginx, 2)} µs (nginx / fairpatch ${f(r.cpuPerPollUs.nginx / r.cpuPerPollUs.fairpatch, 2)}). What a poll costs, whatever wrk and the servers' workers make of the two shared cores.`,
    '',
    `Latency against load: both servers (${r.workers} workers each) at each number of open wrk connections, median of 3 alternating runs of 3 s. On 2 cores shared with wrk a poll's latency is mostly its wait in a queue, so it grows with the connections held open at about the same throughput.`,
    '',
    '| connections | fairpatch req/s | fairpatch p50 / p99 ms | nginx req/s | nginx p50 / p99 ms | req/s ratio |',
    '|---|---|---|---|---|---|',
    ...r.sweep.map(
      (p) =>
        `| ${p.connections} | ${f(p.fairpatch.rps, 0)} | ${f(p.fairpatch.p50ms, 2)} / ${f(p.fairpatch.p99ms, 2)} | ${f(p.nginx.rps, 0)} | ${f(p.nginx.p50ms, 2)} / ${f(p.nginx.p99ms, 2)} | ${f(p.fairpatch.rps / p.nginx.rps, 2)} |`,
    ),
    '',
    sweepVerdict(r),
  ];
}

/** The most connections at which each server kept p99 at or under 10 ms, and their throughput there. */
function sweepVerdict(r: WorkersResult): string {
  const best = (pick: (p: WorkersResult['sweep'][number]) => WrkResult) =>
    r.sweep.filter((p) => pick(p).p99ms <= 10).at(-1);
  const ours = best((p) => p.fairpatch);
  const theirs = best((p) => p.nginx);
  const say = (p: typeof ours, pick: (p: WorkersResult['sweep'][number]) => WrkResult) =>
    p
      ? `up to ${p.connections} connections (${f(pick(p).rps, 0)} req/s)`
      : 'at none of these loads';
  return `p99 ≤ 10 ms: fairpatch ${say(ours, (p) => p.fairpatch)}; nginx ${say(theirs, (p) => p.nginx)}.`;
}

/** `npm run bench -- workers`: the every-core poll benchmark; rewrites its section of RESULTS.md. */
export async function run(): Promise<void> {
  const started = new Date();
  const loadBefore = loadavg()[0] ?? 0;
  const result = await workersBenchmark();
  const loadAfter = loadavg()[0] ?? 0;
  const section = [
    ...workersSection(result),
    '',
    `(\`npm run bench -- workers\`, ${started.toISOString()}, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after. wrk runs on the same 2 cores as the servers, so both servers' tail latency is mostly wrk and the servers taking turns on the cores. Polls are answered on the socket (src/serving/poll-socket.ts): one write of pre-assembled bytes per poll, no HTTP objects; node:http and Hono see every other request.)`,
  ];
  replaceSection(RESULTS, '## Every core', section);
  console.log(section.join('\n'));
}
