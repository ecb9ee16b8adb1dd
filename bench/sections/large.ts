import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { Agent as HttpAgent, request } from 'node:http';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { tickStart } from '../../src/common/tick.js';
import { cacheServer, nginxBinary, startNginx } from '../lib/nginx.js';
import { RESULTS, replaceSection } from '../lib/sections.js';
import type { Proc } from '../lib/proc.js';
import { BenchRepo } from '../lib/repo.js';

// `npm run bench -- large`: one large artifact released at one tick to many agents in 5 groups through
// nginx (proxy_cache, the configuration of docs/production.md) in front of two nodes. Per group: the
// time until 50 %, 95 % and 100 % of its agents hold the artifact, hash-checked. 127.0.0.1 only.
// Results: the section "Delivery of a large artifact" of bench/RESULTS.md.

const AGENTS = Number(process.env.LARGE_AGENTS ?? 2000);
const MEGABYTES = Number(process.env.LARGE_MB ?? 50);
/** Downloads in flight at once (the agents' process is one of them; loopback bandwidth is shared). */
const CONCURRENCY = Number(process.env.LARGE_CONCURRENCY ?? 32);
/**
 * Threads the agents run on: on a shared machine one thread gets one thread's share of the cores
 * (32 downloads in one thread moved ~50 MB/s where 32 curl processes moved ~300 MB/s).
 */
const THREADS = Number(process.env.LARGE_THREADS ?? 8);
const RUNS = Number(process.env.LARGE_RUNS ?? 2);
const GROUPS = ['eu-west', 'us-east', 'ap-south', 'tier-gold', 'tenant-a'];

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');

function quantile(values: number[], q: number): number {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
}

/** A small seeded generator (mulberry32), so a run's order can be told and repeated. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(items: T[], next: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

interface Got {
  status: number;
  body: Buffer;
}

function get(http: HttpAgent, url: string): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: http, timeout: 600_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Streams a file, hashing it on the way: nothing of it is kept. */
function download(
  http: HttpAgent,
  url: string,
): Promise<{ status: number; length: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: http, timeout: 600_000 }, (res) => {
      const hash = createHash('sha256');
      let length = 0;
      res.on('data', (c: Buffer) => {
        hash.update(c);
        length += c.length;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          length,
          sha256: hash.digest('hex'),
        }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

interface RunResult {
  seed: number;
  /** Per agent (index), its group and ms from the activation tick's start to holding the verified artifact. */
  agents: Array<{ group: string; ms: number }>;
  /** Groups of the first 10 % of the shuffled order, as a share each: interleaving, not group by group. */
  firstTenth: Record<string, number>;
  errors: number;
  errorSamples: string[];
  originArtifactFetches: number;
  artifactRequests: number;
  artifactHits: number;
  seconds: number;
  loadBefore: number[];
  loadAfter: number[];
}

async function oneRun(
  repo: BenchRepo,
  nodes: Array<{ url: string }>,
  tick: { epochMs: number; tickMs: number },
  run: number,
): Promise<RunResult> {
  const file = join(repo.dir, `large-${run}.bin`);
  const fd = openSync(file, 'w');
  for (let written = 0; written < MEGABYTES * 2 ** 20; written += 2 ** 20)
    writeSync(fd, randomBytes(Math.min(2 ** 20, MEGABYTES * 2 ** 20 - written)));
  closeSync(fd);
  const cache = await startNginx(
    cacheServer({ upstreams: nodes.map((n) => n.url.replace('http://', '')) }),
    { workers: 2 },
  );
  try {
    const staged = await repo.release(
      nodes[0]!.url,
      () => Math.ceil((Date.now() + 4000) / 1000) * 1000,
      file,
    );
    const activation = tickStart(tick, staged.activationTick);
    const seed = (Date.now() ^ (run * 0x9e3779b9)) >>> 0;
    // Agent i is in group i mod 5; the order in which they get a download slot is a random
    // permutation of all of them, drawn per run: no group is served first by construction.
    const order = shuffled(
      Array.from({ length: AGENTS }, (_, i) => i),
      random(seed),
    );
    const groupOf = (i: number) => GROUPS[i % GROUPS.length] as string;
    const firstTenth: Record<string, number> = {};
    for (const i of order.slice(0, Math.ceil(AGENTS / 10)))
      firstTenth[groupOf(i)] = (firstTenth[groupOf(i)] ?? 0) + 1 / Math.ceil(AGENTS / 10);
    const result: RunResult = {
      seed,
      agents: Array.from({ length: AGENTS }, (_, i) => ({ group: groupOf(i), ms: NaN })),
      firstTenth,
      errors: 0,
      errorSamples: [],
      originArtifactFetches: 0,
      artifactRequests: 0,
      artifactHits: 0,
      seconds: 0,
      loadBefore: loadavg(),
      loadAfter: [],
    };
    await new Promise((r) => setTimeout(r, Math.max(0, activation - Date.now())));
    // Each thread takes the next agent of the one shuffled order (a shared counter), so the order
    // holds across threads.
    const job: Job = {
      base: cache.url,
      order,
      groups: GROUPS,
      path: staged.path,
      next: new SharedArrayBuffer(4),
      slots: Math.max(1, Math.round(CONCURRENCY / THREADS)),
    };
    await Promise.all(
      Array.from(
        { length: Math.min(THREADS, CONCURRENCY) },
        () =>
          new Promise<void>((resolve, reject) => {
            const worker = new Worker(new URL(import.meta.url), { workerData: job });
            worker.on('message', (m: Report) => {
              if (m.held) result.agents[m.held.agent]!.ms = m.held.at - activation;
              if (m.error) {
                result.errors++;
                if (result.errorSamples.length < 5) result.errorSamples.push(m.error);
              }
            });
            worker.on('error', reject);
            worker.on('exit', () => resolve());
          }),
      ),
    );
    result.seconds = (Date.now() - activation) / 1000;
    result.loadAfter = loadavg();
    for (const e of cache.accessLog())
      if (e.path.includes('/targets/')) {
        result.artifactRequests++;
        if (e.cache === 'HIT') result.artifactHits++;
        if (e.origin) result.originArtifactFetches++;
      }
    return result;
  } finally {
    await cache.stop();
  }
}

function section(runs: RunResult[], started: Date): string[] {
  const out: string[] = [];
  const mb = MEGABYTES;
  const nginx = spawnSync(nginxBinary(), ['-v'], { encoding: 'utf8' }).stderr.trim() || 'nginx';
  out.push('## Delivery of a large artifact');
  out.push('');
  out.push(
    `\`${AGENTS === 2000 && MEGABYTES === 50 ? '' : `LARGE_AGENTS=${AGENTS} LARGE_MB=${MEGABYTES} `}npm run bench -- large\`, ${started.toISOString()}, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB; ${nginx.replace('nginx version: ', '')}, 2 workers, the nginx block of docs/production.md (artifacts: one cache entry for every group path, \`proxy_cache_lock\`) in front of two \`fairpatch serve\` processes over one SQLite file; 127.0.0.1 only.`,
  );
  out.push('');
  out.push(
    `What was measured: a ${mb} MiB artifact (random bytes) released at one tick to ${AGENTS.toLocaleString('en')} simulated agents in ${GROUPS.length} groups (${AGENTS / GROUPS.length} each). At the tick each agent fetches timestamp.json, the snapshot, the vendor's targets and the artifact through the cache, streaming it through SHA-256 and checking length and hash against the targets metadata; ${CONCURRENCY} agents are in flight at a time (${THREADS} threads of one process on the same 2 cores as nginx and both nodes, so loopback bandwidth and the agents' hashing set the pace: ${f((AGENTS * mb) / 1024, 0)} GiB per run). The order in which agents get a slot is a random permutation of all of them, drawn per run (seed given): agent i is in group i mod 5, so the groups are interleaved, never started one after the other. Times are from the activation tick's start to the agent holding the verified artifact.`,
  );
  out.push('');
  out.push(
    '| run (seed) | group | agents holding it | 50 % s | 95 % s | 100 % s | share of the first 10 % of the order |',
  );
  out.push('|---|---|---|---|---|---|---|');
  const gaps: string[] = [];
  runs.forEach((r, n) => {
    const per = GROUPS.map((g) => {
      const ms = r.agents.filter((a) => a.group === g).map((a) => a.ms);
      const held = ms.filter(Number.isFinite);
      return {
        g,
        held: held.length,
        total: ms.length,
        q50: quantile(held, 0.5) / 1000,
        q95: quantile(held, 0.95) / 1000,
        q100: held.length === ms.length ? quantile(held, 1) / 1000 : NaN,
      };
    });
    for (const p of per)
      out.push(
        `| ${n + 1} (${r.seed}) | ${p.g} | ${p.held} of ${p.total} | ${f(p.q50, 2)} | ${f(p.q95, 2)} | ${f(p.q100, 2)} | ${f(100 * (r.firstTenth[p.g] ?? 0), 0)} % |`,
      );
    const gap = (key: 'q50' | 'q95' | 'q100') => {
      const values = per.map((p) => p[key]);
      const best = per[values.indexOf(Math.min(...values))]!.g;
      const worst = per[values.indexOf(Math.max(...values))]!.g;
      return `${f(Math.max(...values) - Math.min(...values), 2)} s (${best} first, ${worst} last)`;
    };
    const all = r.agents.map((a) => a.ms).filter(Number.isFinite);
    gaps.push(
      `- run ${n + 1}: best-to-worst group gap at 50 % ${gap('q50')}, at 95 % ${gap('q95')}, at 100 % ${gap('q100')}; all agents: 50 / 95 / 100 % at ${f(quantile(all, 0.5) / 1000, 2)} / ${f(quantile(all, 0.95) / 1000, 2)} / ${f(quantile(all, 1) / 1000, 2)} s, ${f((all.length * mb) / 1024 / r.seconds, 2)} GiB/s delivered and verified; artifact requests ${r.artifactRequests.toLocaleString('en')}, ${f((100 * r.artifactHits) / Math.max(1, r.artifactRequests))} % cache HIT, ${r.originArtifactFetches} sent to the origin; errors (retried) ${r.errors}${r.errorSamples.length ? ` (${r.errorSamples.slice(0, 2).join('; ')})` : ''}; load average ${r.loadBefore.map((x) => x.toFixed(2)).join(' ')} before, ${r.loadAfter.map((x) => x.toFixed(2)).join(' ')} after.`,
    );
  });
  out.push('');
  out.push(...gaps);
  out.push('');
  out.push(
    "Reading it: with the groups interleaved, every group's curve is the fleet's curve sampled at random, so the gaps between groups are sampling noise of a few slots' worth of download time and change sign between runs; a group started later would show a gap the size of its delay in every run. The origin sends each artifact once (the lock; one cache key for every group's path), so the nodes' bandwidth does not grow with the fleet. The 100 % time is the fleet's size times the artifact over what the cache and the agents' process move together on this machine: on a real network it is the cache's uplink and the agents' own links.",
  );
  return out;
}

interface Job {
  base: string;
  order: number[];
  groups: string[];
  path: string;
  /** Index into `order` of the next agent to start, shared by every thread. */
  next: SharedArrayBuffer;
  /** Agents in flight at once on this thread. */
  slots: number;
}

interface Report {
  held?: { agent: number; at: number };
  error?: string;
}

/** One thread of agents: `slots` at a time, each the next of the shared order; a failure retries. */
async function agentThread(job: Job): Promise<void> {
  const http = new HttpAgent({ keepAlive: true, maxSockets: job.slots });
  const next = new Int32Array(job.next);
  const groupOf = (i: number) => job.groups[i % job.groups.length] as string;
  const report = (m: Report) => parentPort!.postMessage(m);
  const agent = async (i: number): Promise<void> => {
    const base = `${job.base}/g/${groupOf(i)}`;
    const ok = async (path: string): Promise<Buffer> => {
      const got = await get(http, base + path);
      if (got.status !== 200) throw new Error(`${got.status} for ${path}`);
      return got.body;
    };
    // The agent's poll at the tick, then what a TUF client fetches for a new release.
    const timestamp = JSON.parse((await ok('/metadata/timestamp.json')).toString()) as {
      signed: { meta: Record<string, { version: number }> };
    };
    const snapshotVersion = timestamp.signed.meta['snapshot.json']!.version;
    const snapshot = JSON.parse(
      (await ok(`/metadata/${snapshotVersion}.snapshot.json`)).toString(),
    ) as { signed: { meta: Record<string, { version: number }> } };
    const acme = snapshot.signed.meta['acme.json']!.version;
    const targets = JSON.parse((await ok(`/metadata/${acme}.acme.json`)).toString()) as {
      signed: { targets: Record<string, { length: number; hashes: { sha256: string } }> };
    };
    const info = targets.signed.targets[job.path];
    if (!info) throw new Error(`snapshot ${snapshotVersion} does not list ${job.path}`);
    const name = job.path.slice(job.path.indexOf('/') + 1);
    const got = await download(http, `${base}/targets/acme/${info.hashes.sha256}.${name}`);
    if (got.status !== 200) throw new Error(`${got.status} for the artifact`);
    if (got.length !== info.length || got.sha256 !== info.hashes.sha256)
      throw new Error('the artifact does not match its hash');
    report({ held: { agent: i, at: Date.now() } });
  };
  const retries: number[] = [];
  const attempts = new Map<number, number>();
  const take = (): number | undefined => {
    const n = Atomics.add(next, 0, 1);
    return n < job.order.length ? job.order[n] : retries.shift();
  };
  await Promise.all(
    Array.from({ length: job.slots }, async () => {
      for (let i = take(); i !== undefined; i = take()) {
        try {
          await agent(i);
        } catch (error) {
          report({ error: `agent ${i}: ${(error as Error).message}` });
          const n = (attempts.get(i) ?? 0) + 1;
          attempts.set(i, n);
          if (n < 5) retries.push(i);
        }
      }
    }),
  );
  http.destroy();
}

export async function run(): Promise<void> {
  nginxBinary();
  const started = new Date();
  const repo = new BenchRepo();
  const nodes: Proc[] = [];
  try {
    const tick = await repo.twoNodesWithVendor(nodes);
    const runs: RunResult[] = [];
    for (let run = 0; run < RUNS; run++) {
      runs.push(await oneRun(repo, nodes, tick, run));
      console.error(`run ${run + 1} of ${RUNS}: ${runs.at(-1)!.seconds.toFixed(1)} s`);
    }
    const lines = section(runs, started);
    console.log(lines.join('\n'));
    if (!process.env.LARGE_NO_WRITE)
      replaceSection(RESULTS, '## Delivery of a large artifact', lines);
  } finally {
    for (const n of nodes) await n.stop();
    repo.cleanup();
  }
}

// In a worker thread this module is an agent (run() spawns them with this very file).
if (!isMainThread) await agentThread(workerData as Job);
