import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import { canonicalBytes } from '../../src/common/canonical.js';
import { ed25519PublicKey } from '../../src/common/ed25519.js';
import { signObservation } from '../../src/common/observation.js';
import { connect } from '../../src/db/connect.js';
import { logRoutes } from '../../src/http/routes/log.js';
import { generateRepositoryKeys, readOnlineKeys } from '../../src/keys/keygen.js';
import { signCheckpoint } from '../../src/log/checkpoint.js';
import { type Leaf, leafBytes } from '../../src/log/leaves.js';
import { verifierKey } from '../../src/log/note.js';
import { LogStore } from '../../src/log/store.js';
import type { KeyPair } from '../../src/tuf/keys.js';
import {
  type Envelope,
  type RootSigned,
  envelopeBytes,
  metaFile,
  sha256Hex,
  signEnvelope,
} from '../../src/tuf/metadata.js';
import { buildTimestamp } from '../../src/tuf/roles.js';
import { parseRoot } from '../../src/tuf/schema.js';
import { releaseActivatedLeaf, scheduledReleaseLeaf } from '../lib/synthetic-leaves.js';
import { listen } from '../lib/listen.js';
import { cacheServer, startNginx } from '../lib/nginx.js';
import { RESULTS, replaceSection } from '../lib/sections.js';

/**
 * Issue 30: the log as C2SP tlog-tiles. `npm run bench -- tiles`:
 *  1. an incremental audit (a saved --state) of BENCH_TILES_NEW (1,000,000) new entries, then a full
 *     audit of the same log from an empty state;
 *  2. a log of BENCH_TILES_BIG (10,000,000) entries: its first (full) audit, then an incremental one
 *     after 1,000 more;
 *  3. BENCH_TILES_AUDITORS (1,000) auditors catching up at once on a log of BENCH_TILES_CACHED
 *     (2,000) entries through docs/production.md's nginx: origin requests and bytes per tile path.
 * Each audit runs in a process of its own (bench/lib/audit-child.ts): its time and peak RSS are its
 * own. The log is one tenth receipts (batches of 100, signed by 1,000 agents), the rest roll-ups, as
 * in `auditBig` (bench/sections/log.ts).
 */

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const seconds = (t0: number) => (performance.now() - t0) / 1000;
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

interface Served {
  url: string;
  log: LogStore;
  /** Origin requests and body bytes by path, since the last reset. */
  paths: Map<string, { requests: number; bytes: number }>;
  close(): Promise<void>;
}

/** A repository's keys, and a log over SQLite served the way a node serves it (logRoutes). */
export class BenchLog {
  readonly dir = mkdtempSync(join(tmpdir(), 'fairpatch-tiles-'));
  readonly keys = join(this.dir, 'keys');
  readonly root: Envelope<RootSigned>;
  readonly rootFile = join(this.keys, '1.root.json');
  readonly logKeyFile = join(this.dir, 'log.vkey');
  private readonly timestampKey: KeyPair;
  private readonly logKey: KeyPair;
  private readonly origin = 'bench.example/log';
  private readonly epoch = Math.floor(Date.now() / 1000) * 1000 - 3 * 86_400_000;
  private readonly agents = Array.from({ length: 1000 }, () => {
    const seed = randomBytes(32);
    return { seed, key: ed25519PublicKey(seed).toString('hex') };
  });
  private readonly docs = new Map<number, { text: string; digest: string }>();
  size = 0;
  private readonly batches = new Map<number, Leaf>();

  /**
   * Receipt `r` is agent r mod 1,000 about tick 3500 + r mod 200, as in `auditBig`: the observations
   * repeat every 1,000 receipts, so batch `slot` is batch `slot mod 10` (signed once, reused).
   */
  private readonly distinctBatches = 10;

  /**
   * With `distinct`, every batch is signed anew: batch `slot` is 100 agents' runs about tick
   * 3500 + slot, so every receipt is a run of its own (as when agents poll every tick), and the log
   * holds as many distinct runs as receipts.
   */
  constructor(private readonly distinct = false) {
    generateRepositoryKeys({ dir: this.keys, now: Date.now() });
    this.root = parseRoot(JSON.parse(readFileSync(this.rootFile, 'utf8'))) as Envelope<RootSigned>;
    const online = readOnlineKeys(this.keys, this.root.signed);
    this.timestampKey = online.timestamp;
    this.logKey = online.log;
    writeFileSync(this.logKeyFile, verifierKey(this.origin, this.logKey.publicKey) + '\n');
  }

  /** The timestamp of tick `k`, signed by the root's timestamp key, and its digest (as intake names it). */
  private doc(k: number): { text: string; digest: string } {
    let d = this.docs.get(k);
    if (!d) {
      const snapshot = metaFile(k >= 3601 ? 2 : 1, Buffer.from('s'));
      const text = envelopeBytes(
        signEnvelope(buildTimestamp(k, this.epoch + (k - 1) * 1000 + 300_000, snapshot), [
          this.timestampKey,
        ]),
      ).toString();
      const digest = createHash('sha256')
        .update(canonicalBytes(JSON.parse(text)))
        .digest('hex');
      this.docs.set(k, (d = { text, digest }));
    }
    return d;
  }

  /** Leaf `i` of the log: the repository, one release, then a receipt batch every 1,000th leaf. */
  leaf(i: number): Leaf {
    const epoch = this.epoch;
    if (i === 0)
      return {
        type: 'repository.created',
        v: 1,
        epoch_ms: epoch,
        tick_ms: 1000,
        freshness_ms: 300_000,
        root_sha256: sha256Hex(canonicalBytes(this.root)),
      };
    if (i === 1) return scheduledReleaseLeaf(epoch);
    if (i === 2) return releaseActivatedLeaf();
    if (i % 1000 === 3) {
      // A batch of 100 receipts every 1,000th leaf.
      const slot = (i - 3) / 1000;
      if (this.distinct) return this.batch(slot);
      const reused = slot % this.distinctBatches;
      let leaf = this.batches.get(reused);
      if (!leaf) this.batches.set(reused, (leaf = this.batch(reused)));
      return leaf;
    }
    return {
      type: 'delivery.rollup',
      v: 1,
      node: 'n1',
      from_tick: i,
      to_tick: i + 1,
      groups: {
        [`g${i % 8}`]: {
          polls: 5,
          versions: { '2': { polls: 5, first_tick: i, last_tick: i + 1 } },
        },
      },
    };
  }

  /**
   * Receipt batch `slot`: 100 receipts by 1,000 agents about 200 ticks' timestamps (distinct: 100
   * agents' receipts about tick 3500 + slot).
   */
  private batch(slot: number): Leaf {
    const epoch = this.epoch;
    const documents: Record<string, string> = {};
    const receipts = [];
    for (let j = 0; j < 100; j++) {
      const r = this.distinct ? slot * 1000 + j : slot * 100 + j;
      const k = this.distinct ? 3500 + slot : 3500 + (r % 200);
      const { text, digest } = this.doc(k);
      documents[digest] = text;
      const agent = this.agents[Math.floor(r) % this.agents.length]!;
      const at = new Date(epoch + (k - 1) * 1000 + 40).toISOString();
      receipts.push(
        signObservation(
          {
            v: 1,
            agent: agent.key,
            group: `g${Math.floor(r) % 8}`,
            document: digest,
            first_at: at,
            last_at: at,
            polls: 1,
            via: '/g/x',
            lag_ms: 40,
          },
          agent.seed,
        ),
      );
    }
    return { type: 'receipts.batch', v: 2, documents, receipts };
  }

  private store?: { log: LogStore; close(): Promise<void> };

  async open(): Promise<LogStore> {
    if (this.store) return this.store.log;
    const db = await connect({ url: join(this.dir, 'log.sqlite') });
    const log = new LogStore(db, (size, root) =>
      signCheckpoint(
        { origin: this.origin, size, rootHash: root },
        this.origin,
        this.logKey.secretKey,
      ),
    );
    this.store = { log, close: () => db.destroy() };
    this.size = (await log.head()).size;
    return log;
  }

  /** Appends `count` leaves, in batches as the sequencer writes them. */
  async grow(count: number): Promise<void> {
    const log = await this.open();
    const target = this.size + count;
    while (this.size < target) {
      const n = Math.min(10_000, target - this.size);
      const batch = Array.from({ length: n }, (_, j) => ({
        dedupe: `bench:${this.size + j}`,
        data: leafBytes(this.leaf(this.size + j)),
      }));
      this.size = (await log.append(batch, Date.now())).size;
    }
  }

  /** The log over HTTP as a node serves it, counting what the origin sends per path. */
  async serve(): Promise<Served> {
    const log = await this.open();
    const paths = new Map<string, { requests: number; bytes: number }>();
    const app = new Hono();
    app.use('*', async (c, next) => {
      await next();
      const path = new URL(c.req.url).pathname;
      const bytes = c.res.body ? (await c.res.clone().arrayBuffer()).byteLength : 0;
      const seen = paths.get(path) ?? { requests: 0, bytes: 0 };
      paths.set(path, { requests: seen.requests + 1, bytes: seen.bytes + bytes });
    });
    app.route(
      '/log',
      logRoutes({ log, verifierKey: verifierKey(this.origin, this.logKey.publicKey) }),
    );
    const http = await listen(app);
    return { url: http.url, log, paths, close: () => http.close() };
  }

  /** A `fairpatch audit` run in its own process (bench/lib/audit-child.ts). */
  async audit(url: string, stateDir: string): Promise<AuditFigures> {
    const child = fileURLToPath(new URL('../lib/audit-child.js', import.meta.url));
    // Asynchronously: this process serves the log the child reads.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--max-old-space-size=16384',
        ...(process.env.BENCH_TILES_PROFILE
          ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_TILES_PROFILE}`]
          : []),
        child,
        url,
        stateDir,
        this.logKeyFile,
        this.rootFile,
      ],
      { encoding: 'utf8', maxBuffer: 1 << 20 },
    );
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as AuditFigures;
  }

  async close(): Promise<void> {
    await this.store?.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

interface AuditFigures {
  seconds: number;
  maxRssMiB: number;
  /** What the auditor keeps in --state after the run. */
  stateBytes?: number;
  verdict?: string;
  size?: number;
  error?: string;
}

const tileTraffic = (paths: Served['paths']) => {
  let requests = 0;
  let bytes = 0;
  for (const [path, p] of paths)
    if (path.startsWith('/log/tile/')) {
      requests += p.requests;
      bytes += p.bytes;
    }
  return { requests, bytes };
};

/** 1. A saved state, then `fresh` new entries: the incremental run, then a full one of the same log. */
async function incremental(fresh: number, before: number, distinct = false) {
  const bench = new BenchLog(distinct);
  try {
    let t0 = performance.now();
    await bench.grow(before);
    console.error(`built ${before} entries in ${round(seconds(t0))} s`);
    const served = await bench.serve();
    const state = join(bench.dir, 'state');
    const first = await bench.audit(served.url, state);
    await bench.grow(fresh);
    const buildSeconds = seconds(t0);
    served.paths.clear();
    t0 = performance.now();
    const second = await bench.audit(served.url, state);
    const incrementalTraffic = tileTraffic(served.paths);
    served.paths.clear();
    const full = await bench.audit(served.url, join(bench.dir, 'fresh-state'));
    const fullTraffic = tileTraffic(served.paths);
    await served.close();
    return {
      before,
      fresh,
      buildSeconds: round(buildSeconds),
      first,
      incremental: { ...second, ...incrementalTraffic },
      full: { ...full, ...fullTraffic },
    };
  } finally {
    await bench.close();
  }
}

/** 3. `auditors` readers catching up at once through nginx, on a log of `entries`. */
async function cached(auditors: number, entries: number) {
  const bench = new BenchLog();
  try {
    await bench.grow(entries);
    const served = await bench.serve();
    const cache = await startNginx(cacheServer({ upstreams: [served.url.replace('http://', '')] }));
    try {
      const { size, root } = await served.log.head();
      served.paths.clear();
      const t0 = performance.now();
      // In two processes of their own (two cores), half the readers each, started together.
      const child = fileURLToPath(new URL('../lib/tile-readers-child.js', import.meta.url));
      const crowds = await Promise.all(
        [Math.ceil(auditors / 2), Math.floor(auditors / 2)].map(async (n) => {
          const { stdout } = await promisify(execFile)(
            process.execPath,
            [child, cache.url, String(size), Buffer.from(root).toString('hex'), String(n)],
            { encoding: 'utf8', maxBuffer: 1 << 20 },
          );
          return JSON.parse(stdout.trim().split('\n').at(-1)!) as {
            failed: number;
            firstFailure?: string;
            requestsPerReader: number;
            bytesPerReader: number;
          };
        }),
      );
      const failed = crowds.flatMap((c) => (c.firstFailure ? [c.firstFailure] : []));
      const failedReaders = crowds.reduce((a, c) => a + c.failed, 0);
      const elapsed = seconds(t0);
      const log = cache.accessLog().filter((e) => e.path.startsWith('/log/tile/'));
      const paths = new Set(log.map((e) => e.path));
      const origin = tileTraffic(served.paths);
      const perPath = [...served.paths.entries()].filter(([p]) => p.startsWith('/log/tile/'));
      return {
        auditors,
        entries: size,
        seconds: round(elapsed),
        requests: log.length,
        tilePaths: paths.size,
        originRequests: origin.requests,
        originBytes: origin.bytes,
        maxOriginRequestsPerPath: Math.max(...perPath.map(([, p]) => p.requests)),
        bytesServedPerAuditor: crowds[0]!.bytesPerReader,
        cacheHits: log.filter((e) => e.cache === 'HIT').length,
        failedReaders,
        ...(failed.length > 0 ? { firstFailure: failed[0] } : {}),
      };
    } finally {
      await cache.stop();
      await served.close();
    }
  } finally {
    await bench.close();
  }
}

export async function run(): Promise<void> {
  const fresh = env('BENCH_TILES_NEW', 1_000_000);
  const big = env('BENCH_TILES_BIG', 10_000_000);
  const auditors = env('BENCH_TILES_AUDITORS', 1000);
  const cachedEntries = env('BENCH_TILES_CACHED', 2_000);
  const results: Record<string, unknown> = {};
  // Each phase's figures are printed and written as soon as they are in: the 10M log takes long.
  const phase = async (name: string, measure: () => Promise<unknown>) => {
    results[name] = await measure();
    console.log(JSON.stringify(results, null, 2));
    write(results);
  };
  if (fresh > 0) await phase('incremental', () => incremental(fresh, 1000));
  if (auditors > 0) await phase('cached', () => cached(auditors, cachedEntries));
  // BENCH_TILES_DISTINCT=0 skips the log of distinct runs, =only measures it alone.
  const distinct = process.env.BENCH_TILES_DISTINCT;
  if (big > 0 && distinct !== 'only') await phase('big', () => incremental(1000, big));
  if (big > 0 && distinct !== '0') await phase('bigDistinct', () => incremental(1000, big, true));
}

function write(results: Record<string, unknown>): void {
  const at = new Date().toISOString();
  const inc = results.incremental as Awaited<ReturnType<typeof incremental>> | undefined;
  const bigRun = results.big as Awaited<ReturnType<typeof incremental>> | undefined;
  const distinct = results.bigDistinct as Awaited<ReturnType<typeof incremental>> | undefined;
  const c = results.cached as Awaited<ReturnType<typeof cached>> | undefined;
  const row = (what: string, a: AuditFigures & { requests?: number; bytes?: number }) =>
    `| ${what} | ${round(a.seconds, 2)} | ${a.maxRssMiB} | ${a.stateBytes === undefined ? '–' : round(a.stateBytes / 2 ** 20, 2)} | ${a.requests ?? '–'} | ${a.bytes === undefined ? '–' : round(a.bytes / 2 ** 20)} | ${a.verdict ?? a.error} |`;
  replaceSection(RESULTS, '## Log tiles', [
    `## Log tiles: incremental audits, and 1,000 auditors behind nginx`,
    '',
    `\`npm run bench -- tiles\`, ${at}; each audit in a process of its own (time, peak RSS), over loopback HTTP, SQLite.`,
    '',
    '| audit | s | peak RSS MiB | state MiB | tile requests | MiB fetched | verdict |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...(inc
      ? [
          row(
            `incremental: ${inc.fresh.toLocaleString('en')} new entries after ${inc.before}`,
            inc.incremental,
          ),
          row(
            `full: the same ${(inc.before + inc.fresh).toLocaleString('en')} entries, empty state`,
            inc.full,
          ),
        ]
      : []),
    ...(bigRun
      ? [
          row(`full: ${bigRun.before.toLocaleString('en')} entries (the first run)`, bigRun.first),
          row(
            `incremental: 1,000 new entries on ${bigRun.before.toLocaleString('en')}`,
            bigRun.incremental,
          ),
          row(
            `full: the same ${(bigRun.before + 1000).toLocaleString('en')} entries, empty state`,
            bigRun.full,
          ),
        ]
      : []),
    ...(distinct
      ? [
          row(
            `full: ${distinct.before.toLocaleString('en')} entries, every receipt a run of its own (the first run)`,
            distinct.first,
          ),
          row(
            `incremental: 1,000 new entries on those ${distinct.before.toLocaleString('en')}`,
            distinct.incremental,
          ),
          row(
            `full: the same ${(distinct.before + 1000).toLocaleString('en')} entries, empty state`,
            distinct.full,
          ),
        ]
      : []),
    '',
    ...(c
      ? [
          `${c.auditors} auditors catching up at once on ${c.entries.toLocaleString('en')} entries through nginx (docs/production.md): ${c.requests.toLocaleString('en')} tile requests over ${c.tilePaths} tile paths in ${c.seconds} s; the origin saw ${c.originRequests} requests (at most ${c.maxOriginRequestsPerPath} per path), ${round(c.originBytes / 2 ** 20, 2)} MiB; each auditor read ${round(c.bytesServedPerAuditor / 2 ** 20, 2)} MiB; ${c.cacheHits.toLocaleString('en')} answered as cache HITs (the rest waited on the lock and were answered from the cache as MISS or UPDATING); ${c.failedReaders} readers failed.`,
        ]
      : []),
  ]);
}
