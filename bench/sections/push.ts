import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BenchRepo } from '../lib/repo.js';
import { median, rssMiB } from '../lib/proc.js';
import { RESULTS, replaceSection } from '../lib/sections.js';

export interface SseResult {
  streams: number;
  clientProcesses: number;
  connected: number;
  received: number;
  fanoutStartAfterTickMs: number;
  lastWriteAfterTickMs: number;
  perGroup: Record<string, { min: number; p50: number; p99: number; max: number }>;
  lastReceivedAfterTickMs: number;
  rssMiB: number;
}

const pct = (values: number[], q: number) => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN;
};

/** 10,000 event streams from a second process; a release activates; when does each one hear of it? */
export async function sseBenchmark(streams = 10_000, groups = 4, clients = 2): Promise<SseResult> {
  const repo = new BenchRepo();
  // Every stream comes from 127.0.0.1: both per-address caps must allow them all.
  const cap = String(streams + 100);
  const node = await repo.node('push', [
    '--max-streams-per-address',
    cap,
    '--max-connections-per-address',
    cap,
  ]);
  try {
    await repo.addVendor(node.url);
    // The delegation's own activation is announced too: let it pass before the streams open.
    await new Promise((r) => setTimeout(r, 3000));
    // The load is split over `clients` processes: one Node process reading 10,000 sockets is itself
    // ~100 ms of sequential callbacks, which would be measured as delivery delay.
    const outputs = Array.from({ length: clients }, (_, i) => join(repo.dir, `sse-${i}.json`));
    const procs = outputs.map((file, i) => {
      const share = Math.floor(streams / clients) + (i < streams % clients ? 1 : 0);
      const child = spawn(
        process.execPath,
        [
          new URL('../sse-client.js', import.meta.url).pathname,
          node.url,
          String(share),
          String(groups),
          '60000',
          file,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      const ready = new Promise<void>((resolve) =>
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('ready')) resolve();
        }),
      );
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      return { ready, done };
    });
    await Promise.all(procs.map((p) => p.ready));
    const rss = rssMiB(node.process.pid!);
    const releaseAt = Math.ceil((Date.now() + 4000) / 1000) * 1000;
    const staged = await repo.release(node.url, releaseAt);
    const tick = Date.parse(staged.activatesAt);
    await Promise.all(procs.map((p) => p.done));
    let connected = 0;
    const received: Array<{ group: string; at: number }> = [];
    for (const file of outputs) {
      const part = JSON.parse(readFileSync(file, 'utf8')) as {
        connected: number;
        received: Array<{ group: string; at: number }>;
      };
      connected += part.connected;
      received.push(...part.received);
    }
    const health = (await (await fetch(`${node.url}/healthz`)).json()) as {
      last_fanout: { started_at: number; duration_ms: number };
    };
    const perGroup: SseResult['perGroup'] = {};
    for (let g = 0; g < groups; g++) {
      const delays = received.filter((r) => r.group === `group-${g}`).map((r) => r.at - tick);
      perGroup[`group-${g}`] = {
        min: Math.min(...delays),
        p50: median(delays),
        p99: pct(delays, 0.99),
        max: Math.max(...delays),
      };
    }
    return {
      streams,
      clientProcesses: clients,
      connected,
      received: received.length,
      fanoutStartAfterTickMs: health.last_fanout.started_at - tick,
      lastWriteAfterTickMs: health.last_fanout.started_at - tick + health.last_fanout.duration_ms,
      perGroup,
      lastReceivedAfterTickMs: Math.max(...received.map((r) => r.at - tick)),
      rssMiB: rss,
    };
  } finally {
    await node.stop();
    repo.cleanup();
  }
}

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');

/** The push section of bench/RESULTS.md (`npm run bench`, `npm run bench -- push`). */
export function pushSection(e: SseResult, command: string): string[] {
  return [
    `## Push: ${e.streams.toLocaleString('en')} event streams from a second process (4 groups), one activation`,
    '',
    `Connected ${e.connected}, received ${e.received}. Fan-out started ${f(e.fanoutStartAfterTickMs, 0)} ms after the tick; last event written ${f(e.lastWriteAfterTickMs, 1)} ms after it; last event received ${f(e.lastReceivedAfterTickMs, 1)} ms after it (target ≤ 100 ms). Server RSS with the streams open: ${f(e.rssMiB)} MiB (target ≤ 300). One run (each run re-opens 10,000 sockets); \`${command}\`, ${new Date().toISOString()}. The streams are written in chunks of 500 with a turn of the event loop before each, so polls at the same tick are answered in between.`,
    '',
    '| group | first received ms | p50 ms | p99 ms | max ms |',
    '|---|---|---|---|---|',
    ...Object.entries(e.perGroup).map(
      ([g, d]) => `| ${g} | ${f(d.min, 1)} | ${f(d.p50, 1)} | ${f(d.p99, 1)} | ${f(d.max, 1)} |`,
    ),
  ];
}

/** `npm run bench -- push`: 10,000 event streams, one activation; rewrites its section of RESULTS.md. */
export async function run(): Promise<void> {
  const lines = pushSection(await sseBenchmark(), 'npm run bench -- push');
  console.log(lines.join('\n'));
  replaceSection(RESULTS, '## Push', lines);
}
