import { createHash } from 'node:crypto';
import { Agent as HttpAgent, request } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type TickConfig, tickAt, tickStart } from '../../src/common/tick.js';

/**
 * Simulated agents behind a cache: each polls `/g/<group>/metadata/timestamp.json` at its own
 * phase and, when the snapshot changes, fetches the snapshot, every changed targets file and every
 * new artifact (checking its length and SHA-256), as a TUF client would. No signatures are checked:
 * these agents measure what the cache hands out, tuf-js is tested elsewhere.
 *
 * A statement is stale when its version (= its tick) is below the tick at which the request was
 * sent, less `lateToleranceMs`: the cache answered with a moment that had already passed.
 */
export interface FleetOptions {
  base: string;
  agents: number;
  groups: string[];
  intervalMs: number;
  /** Polls stop being sent at this time (ms since the epoch). */
  untilMs: number;
  tick: TickConfig;
  /** Sockets shared by all agents (keep-alive). */
  maxSockets: number;
  /**
   * How long after a tick's start the previous tick's statement still counts as on time (default
   * 0). Honest parts answer it for a moment: a node holds its tick clock back by the uncertainty of
   * its reading of the database's clock (never early), and nginx judges freshness by a clock it
   * reads once per event-loop turn, which a busy machine stretches to milliseconds.
   */
  lateToleranceMs?: number;
}

export interface StaleStatement {
  agent: number;
  group: string;
  sentTick: number;
  version: number;
  /** When the poll was sent, ms after its tick's start. */
  sentMsIntoTick: number;
}

export interface FleetResult {
  polls: number;
  fetches: number;
  errors: number;
  /** The first few errors, for the report. */
  errorSamples: string[];
  stale: number;
  /** The first few stale statements, for the report. */
  staleSamples: StaleStatement[];
  /** Largest (sent tick − timestamp version) seen. */
  maxLagTicks: number;
  /** Every poll's round trip, ms (from leaving on its socket to the answer read). */
  pollMs: number[];
  /** The agents' own event-loop delay, p99 ms: how far their timers ran late. */
  loopDelayP99Ms: number;
  /** Per agent: when it first held each artifact path, verified (ms since the epoch). */
  held: Array<Map<string, number>>;
  /** Per agent: when it sent the poll that first told it of each snapshot version. */
  toldAt: Array<Map<number, number>>;
  groupOf: (agent: number) => string;
}

interface Got {
  status: number;
  body: Buffer;
  /** When the request got its socket and went out: it may wait in the pool's queue before that. */
  sentAt: number;
}

function get(http: HttpAgent, url: string): Promise<Got> {
  return new Promise((resolve, reject) => {
    let sentAt = Date.now();
    const req = request(url, { agent: http, timeout: 20_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), sentAt }),
      );
      res.on('error', reject);
    });
    req.once('socket', () => {
      sentAt = Date.now();
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

type Meta = Record<string, { version: number }>;
interface Targets {
  signed: { targets: Record<string, { length: number; hashes: { sha256: string } }> };
}

export async function runFleet(options: FleetOptions): Promise<FleetResult> {
  const http = new HttpAgent({ keepAlive: true, maxSockets: options.maxSockets });
  const groupOf = (i: number) => options.groups[i % options.groups.length] as string;
  const result: FleetResult = {
    polls: 0,
    fetches: 0,
    errors: 0,
    errorSamples: [],
    stale: 0,
    staleSamples: [],
    maxLagTicks: 0,
    pollMs: [],
    loopDelayP99Ms: 0,
    held: [],
    toldAt: [],
    groupOf,
  };
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const start = Date.now();

  const agent = async (i: number): Promise<void> => {
    const group = groupOf(i);
    const base = `${options.base}/g/${group}`;
    const held = new Map<string, number>();
    result.held[i] = held;
    const told = new Map<number, number>();
    result.toldAt[i] = told;
    const roles = new Map<string, number>();
    let snapshot = 0;
    const fetchOk = async (path: string): Promise<Buffer> => {
      const got = await get(http, base + path);
      result.fetches++;
      if (got.status !== 200) throw new Error(`${got.status} for ${path}`);
      return got.body;
    };
    const update = async (version: number): Promise<void> => {
      const meta = (
        JSON.parse((await fetchOk(`/metadata/${version}.snapshot.json`)).toString()) as {
          signed: { meta: Meta };
        }
      ).signed.meta;
      for (const [file, { version: v }] of Object.entries(meta)) {
        const role = file.replace(/\.json$/, '');
        if (roles.get(role) === v) continue;
        const doc = JSON.parse(
          (await fetchOk(`/metadata/${v}.${role}.json`)).toString(),
        ) as Targets;
        for (const [path, info] of Object.entries(doc.signed.targets)) {
          if (held.has(path)) continue;
          const slash = path.indexOf('/');
          const bytes = await fetchOk(
            `/targets/${path.slice(0, slash)}/${info.hashes.sha256}.${path.slice(slash + 1)}`,
          );
          if (
            bytes.length !== info.length ||
            createHash('sha256').update(bytes).digest('hex') !== info.hashes.sha256
          )
            throw new Error(`${path}: wrong bytes`);
          held.set(path, Date.now());
        }
        roles.set(role, v);
      }
      snapshot = version;
    };

    // Phases spread over one interval, so the polls arrive evenly.
    await new Promise((r) => setTimeout(r, (i / options.agents) * options.intervalMs));
    while (Date.now() < options.untilMs) {
      try {
        const got = await get(http, `${base}/metadata/timestamp.json`);
        // Judged by when the request really left: a statement older than that moment is stale.
        const sentAt = got.sentAt;
        result.polls++;
        result.pollMs.push(Date.now() - sentAt);
        if (got.status !== 200) throw new Error(String(got.status));
        const signed = (
          JSON.parse(got.body.toString()) as { signed: { version: number; meta: Meta } }
        ).signed;
        const sentTick = tickAt(options.tick, sentAt);
        const lag = tickAt(options.tick, sentAt - (options.lateToleranceMs ?? 0)) - signed.version;
        if (lag > 0) {
          result.stale++;
          if (result.staleSamples.length < 10)
            result.staleSamples.push({
              agent: i,
              group,
              sentTick,
              version: signed.version,
              sentMsIntoTick: sentAt - tickStart(options.tick, sentTick),
            });
        }
        result.maxLagTicks = Math.max(result.maxLagTicks, lag);
        const version = signed.meta['snapshot.json']?.version ?? 0;
        if (version !== snapshot) {
          if (!told.has(version)) told.set(version, sentAt);
          await update(version);
        }
      } catch (error) {
        result.errors++;
        if (result.errorSamples.length < 10)
          result.errorSamples.push(`agent ${i} (${group}): ${(error as Error).message}`);
      }
      // The next slot of this agent's phase (a slow answer skips slots rather than bunching polls).
      const phase = start + (i / options.agents) * options.intervalMs;
      const next =
        phase + (Math.floor((Date.now() - phase) / options.intervalMs) + 1) * options.intervalMs;
      await new Promise((r) => setTimeout(r, next - Date.now()));
    }
  };
  try {
    await Promise.all(Array.from({ length: options.agents }, (_, i) => agent(i)));
  } finally {
    http.destroy();
    loop.disable();
  }
  result.loopDelayP99Ms = loop.percentile(99) / 1e6;
  return result;
}
