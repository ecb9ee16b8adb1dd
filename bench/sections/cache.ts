import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { nginxBinary } from '../lib/nginx.js';
import { type CacheRunResult, cacheRun } from '../lib/cache-run.js';
import type { Proc } from '../lib/proc.js';
import { BenchRepo } from '../lib/repo.js';
import { benchFile } from '../lib/sections.js';

// `npm run bench -- cache`: nginx (proxy_cache) in front of two `fairpatch serve` processes over one
// SQLite file, 10,000 simulated agents polling through it across a release; then the same through a
// cache that ignores the origin's headers. 127.0.0.1 only, bounded in time. Results: bench/CACHE.md.

const AGENTS = Number(process.env.CACHE_AGENTS ?? 10_000);
const GROUPS = ['eu-west', 'us-east', 'ap-south', 'tier-gold', 'tenant-a'];
const INTERVAL_MS = 20_000;

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const pct = (part: number, whole: number) => `${f((100 * part) / Math.max(1, whole))} %`;

function quantile(values: number[], q: number): number {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
}

function report(r: CacheRunResult, out: string[]): void {
  const { fleet, options } = r;
  const held = r.toRelease.filter(Number.isFinite);
  out.push(`### ${options.label}`, '');
  out.push(
    `${options.agents.toLocaleString('en')} agents in ${options.groups.length} groups, one poll every ${options.intervalMs / 1000} s each at its own phase, ${options.maxSockets} keep-alive sockets; release at tick ${r.activationTick}.`,
    '',
  );
  out.push(
    '| polls | other fetches | errors | stale statements (version < tick the request was sent in) | worst lag (ticks) | agents holding the verified release | within 1 tick + 1 poll interval | time to release p50 / p99 / max s |',
  );
  out.push('|---|---|---|---|---|---|---|---|');
  out.push(
    `| ${fleet.polls.toLocaleString('en')} | ${fleet.fetches.toLocaleString('en')} | ${fleet.errors} | ${fleet.stale.toLocaleString('en')} | ${fleet.maxLagTicks} | ${held.length.toLocaleString('en')} of ${options.agents.toLocaleString('en')} | ${r.onTime.toLocaleString('en')} | ${f(quantile(held, 0.5) / 1000, 2)} / ${f(quantile(held, 0.99) / 1000, 2)} / ${f(quantile(held, 1) / 1000, 2)} |`,
  );
  const told = r.toTold.filter(Number.isFinite);
  const fetching = r.toRelease.map((ms, i) => ms - (r.toTold[i] ?? NaN)).filter(Number.isFinite);
  out.push(
    '',
    `Time to the release splits into the agent's poll phase — from the tick's start to sending the first poll that told of it, p50 / p99 / max ${f(quantile(told, 0.5) / 1000, 2)} / ${f(quantile(told, 0.99) / 1000, 2)} / ${f(quantile(told, 1) / 1000, 2)} s (${told.length.toLocaleString('en')} agents told) — and fetching the snapshot, the targets and the artifact through the cache, p50 / p99 / max ${f(quantile(fetching, 0.5), 0)} / ${f(quantile(fetching, 0.99), 0)} / ${f(quantile(fetching, 1), 0)} ms.`,
  );
  const late = told.filter((ms) => ms > options.intervalMs + 1000).length;
  if (late > 0)
    out.push(
      '',
      `${late.toLocaleString('en')} agents sent the poll that told them of the release more than one interval plus a tick after the tick started: their own timers ran late (the agents' process is loaded), so they fall outside the bound whatever the cache does.`,
    );
  out.push(
    '',
    `Poll round trip through the cache p50 / p99 / max: ${f(quantile(fleet.pollMs, 0.5), 0)} / ${f(quantile(fleet.pollMs, 0.99), 0)} / ${f(quantile(fleet.pollMs, 1), 0)} ms; the agents' own event-loop delay p99: ${f(fleet.loopDelayP99Ms, 0)} ms.`,
  );
  out.push(
    '',
    '| request | through the cache | served from cache (HIT) | sent to the origin |',
    '|---|---|---|---|',
  );
  for (const row of r.requests)
    out.push(
      `| ${row.kind} | ${row.total.toLocaleString('en')} | ${pct(row.hits, row.total)} | ${row.origin.toLocaleString('en')} |`,
    );
  out.push('');
  out.push(
    `Origin requests per timestamp path (one per group) per tick: mean ${f(r.originPerPathTick.mean, 2)}, max ${r.originPerPathTick.max} over ${r.originPerPathTick.pathTicks} path-ticks. All requests served from cache: ${pct(r.hitShare, 1)}.`,
  );
  if (fleet.staleSamples.length > 0)
    out.push(
      '',
      `Stale statements seen, e.g.: ${fleet.staleSamples
        .slice(0, 3)
        .map((s) => `group ${s.group} sent in tick ${s.sentTick}, got version ${s.version}`)
        .join('; ')}.`,
    );
  out.push('');
}

export async function run(): Promise<void> {
  nginxBinary();
  const started = new Date();
  const repo = new BenchRepo();
  const nodes: Proc[] = [];
  const out: string[] = [];
  try {
    const tick = await repo.twoNodesWithVendor(nodes);
    const base = {
      agents: AGENTS,
      groups: GROUPS,
      intervalMs: INTERVAL_MS,
      releaseAfterMs: 20_000,
      maxSockets: 64,
    };
    const good = await cacheRun(repo, nodes, tick, nodes[1]!.url, {
      label: 'Cache obeying the origin (the configuration in docs/production.md)',
      misconfigured: false,
      ...base,
    });
    // The agents are in sync by now (their first round is through this cache too): a shorter lead.
    const bad = await cacheRun(repo, nodes, tick, nodes[1]!.url, {
      label:
        'Misconfigured cache: `proxy_ignore_headers Cache-Control Expires X-Accel-Expires; proxy_cache_valid 200 60s`',
      misconfigured: true,
      ...base,
      releaseAfterMs: 10_000,
    });

    const nginx = spawnSync(nginxBinary(), ['-v'], { encoding: 'utf8' }).stderr.trim() || 'nginx';
    out.push('# fairpatch through a cache', '');
    out.push('- command: `npm run bench -- cache`');
    out.push(
      `- date: ${started.toISOString()}; node ${process.version}; ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB`,
    );
    out.push(
      `- nginx from Debian (one worker, \`proxy_cache\`, the origin's headers obeyed) in front of two \`fairpatch serve\` processes over one SQLite file; the agents' process, nginx and both nodes share the machine; 127.0.0.1 only`,
    );
    out.push(
      "- an agent polls `/g/<group>/metadata/timestamp.json`; when the snapshot changes it fetches the snapshot, the changed targets files and the new artifacts, and checks each artifact's length and SHA-256",
      '',
    );
    report(good, out);
    report(bad, out);
    out.push('## Reading it', '');
    out.push(
      "The origin sees about one request per group path per tick however many agents poll: nginx holds each tick's `timestamp.json` until the tick's end (`X-Accel-Expires`), and versioned files for a year. Concurrent misses at a tick's start each reach the origin (no `proxy_cache_lock`: its waiters retry every 500 ms, longer than a tick), hence a mean a little above one.",
    );
    out.push('');
    out.push(
      "The misconfigured cache keeps a timestamp for 60 s: the agents behind it are told a moment that has passed, and the release does not reach them within a tick plus a poll. The agents catch it by comparing the timestamp's version (= its tick) with the tick they computed from the repository's epoch (`/healthz` gives `epoch_ms` and `tick_ms`).",
    );
    out.push('');
    out.push(
      'The agents are one process on the same two cores as nginx and both nodes (and other work on the machine): a poll every 20 s keeps that process from queueing requests behind its own 64 sockets; with 5 s it could not keep up with the release burst (10,000 × 3 fetches), and its queue, not the cache, set the times. The poll round trip and event-loop delay above show whether it kept up.',
    );
    out.push('', `(${nginx})`);
  } finally {
    for (const n of nodes) await n.stop();
    repo.cleanup();
  }
  writeFileSync(benchFile('CACHE.md'), out.join('\n') + '\n');
  console.log(out.join('\n'));
}
