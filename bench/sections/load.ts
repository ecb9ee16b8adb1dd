import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { Agent as HttpAgent, request } from 'node:http';
import { BenchRepo } from '../lib/repo.js';
import { rssMiB } from '../lib/proc.js';
import { benchFile } from '../lib/sections.js';

// `npm run bench -- load`: 10,000 simulated agents poll one node on 127.0.0.1 for a bounded time
// across a release. Each agent polls timestamp.json every INTERVAL at its own phase and fetches the
// snapshot when its version changes, as a TUF client does. Results go to bench/LOAD.md.

const AGENTS = Number(process.env.LOAD_AGENTS ?? 10_000);
const INTERVAL_MS = 10_000;
const DURATION_MS = Number(process.env.LOAD_SECONDS ?? 60) * 1000;

const http = new HttpAgent({ keepAlive: true, maxSockets: 128 });

function get(url: URL): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: http, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export async function run(): Promise<void> {
  const repo = new BenchRepo();
  const node = await repo.node('load');
  const base = new URL(node.url);
  const out: string[] = [];
  try {
    await repo.addVendor(node.url);
    await new Promise((r) => setTimeout(r, 3000));
    const start = Date.now();
    const releaseAt = Math.ceil((start + DURATION_MS / 2) / 1000) * 1000;
    const staged = await repo.release(node.url, releaseAt);
    const activation = Date.parse(staged.activatesAt);

    let polls = 0;
    let snapshots = 0;
    let errors = 0;
    const firstSeen: number[] = [];
    const rss: Array<[number, number]> = [];
    const sampler = setInterval(
      () => rss.push([Math.round((Date.now() - start) / 1000), rssMiB(node.process.pid!)]),
      5000,
    );
    const groups = ['eu-west', 'us-east', 'ap-south', 'tier-gold', 'tenant-a'];
    let before = 0;
    await Promise.all(
      Array.from({ length: AGENTS }, async (_, i) => {
        const group = groups[i % groups.length];
        let seen = 0;
        let updated = false;
        await new Promise((r) => setTimeout(r, (i / AGENTS) * INTERVAL_MS)); // phases spread over one interval
        while (Date.now() - start < DURATION_MS) {
          try {
            const ts = await get(new URL(`/g/${group}/metadata/timestamp.json`, base));
            polls++;
            if (ts.status !== 200) throw new Error(String(ts.status));
            const version = (
              JSON.parse(ts.body) as { signed: { meta: { 'snapshot.json': { version: number } } } }
            ).signed.meta['snapshot.json'].version;
            if (version !== seen) {
              const snap = await get(
                new URL(`/g/${group}/metadata/${version}.snapshot.json`, base),
              );
              snapshots++;
              if (snap.status !== 200) throw new Error(String(snap.status));
              if (seen !== 0 && !updated && Date.now() >= activation) {
                updated = true;
                firstSeen.push(Date.now() - activation);
              }
              if (seen === 0) before = Math.max(before, version);
              seen = version;
            }
          } catch {
            errors++;
          }
          await new Promise((r) => setTimeout(r, INTERVAL_MS));
        }
      }),
    );
    clearInterval(sampler);
    firstSeen.sort((a, b) => a - b);
    const at = (q: number) =>
      firstSeen[Math.min(firstSeen.length - 1, Math.ceil(q * firstSeen.length) - 1)] ?? NaN;
    out.push('# fairpatch load run', '');
    out.push(
      `- command: \`npm run bench -- load\` (${AGENTS.toLocaleString('en')} agents, ${DURATION_MS / 1000} s, poll interval ${INTERVAL_MS / 1000} s, release at +${Math.round((releaseAt - start) / 1000)} s)`,
    );
    out.push(
      `- date: ${new Date(start).toISOString()}; node ${process.version}; ${cpus().length} × ${cpus()[0]?.model}, ${Math.round(totalmem() / 2 ** 30)} GiB; one server process and the agents' process on the same machine, 127.0.0.1`,
    );
    out.push(
      '',
      '| polls | snapshot fetches | errors | agents that saw the release | after the tick: p50 / p99 / max s |',
      '|---|---|---|---|---|',
    );
    out.push(
      `| ${polls.toLocaleString('en')} | ${snapshots.toLocaleString('en')} | ${errors} | ${firstSeen.length.toLocaleString('en')} of ${AGENTS.toLocaleString('en')} | ${(at(0.5) / 1000).toFixed(2)} / ${(at(0.99) / 1000).toFixed(2)} / ${(at(1) / 1000).toFixed(2)} |`,
    );
    out.push(
      '',
      'Server RSS (MiB) every 5 s:',
      '',
      '| s | ' + rss.map(([s]) => s).join(' | ') + ' |',
      '|---|' + rss.map(() => '---|').join(''),
      '| MiB | ' + rss.map(([, m]) => m.toFixed(0)).join(' | ') + ' |',
    );
    out.push(
      '',
      'Agents poll at their own phase, so the release reaches each within one interval of its tick (the event stream makes that milliseconds: bench/RESULTS.md).',
    );
  } finally {
    await node.stop();
    repo.cleanup();
    http.destroy();
  }
  writeFileSync(benchFile('LOAD.md'), out.join('\n') + '\n');
  console.log(out.join('\n'));
}
