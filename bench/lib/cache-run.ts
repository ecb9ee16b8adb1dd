import { type TickConfig, tickAt, tickStart } from '../../src/common/tick.js';
import { type FleetResult, runFleet } from './cache-agents.js';
import { type AccessEntry, cacheServer, startNginx } from './nginx.js';
import type { Proc } from './proc.js';
import type { BenchRepo } from './repo.js';

export interface CacheRunOptions {
  label: string;
  misconfigured: boolean;
  agents: number;
  groups: string[];
  intervalMs: number;
  /** The release is scheduled this far after the agents start. */
  releaseAfterMs: number;
  maxSockets: number;
}

export interface CacheRunResult {
  options: CacheRunOptions;
  fleet: FleetResult;
  activationTick: number;
  /** Per agent, ms from the activation tick's start to holding the verified artifact; NaN if never. */
  toRelease: number[];
  /** Within one tick plus one poll interval of the activation. */
  onTime: number;
  /** Per agent, ms from the activation tick's start to sending the poll that told it of the release. */
  toTold: number[];
  requests: { kind: string; total: number; hits: number; origin: number }[];
  /** Origin requests per timestamp path per tick: mean and max. */
  originPerPathTick: { mean: number; max: number; pathTicks: number };
  /** Share of all requests the cache answered itself. */
  hitShare: number;
}

const kindOf = (path: string): string =>
  path.endsWith('/timestamp.json')
    ? 'timestamp.json'
    : path.endsWith('.snapshot.json')
      ? 'N.snapshot.json'
      : path.includes('/metadata/')
        ? 'N.<role>.json'
        : 'artifact';

/** One run: nginx in front of `nodes`, a release, the fleet through the cache; nginx's log tells what the origin saw. */
export async function cacheRun(
  repo: BenchRepo,
  nodes: Proc[],
  tick: TickConfig,
  publishTo: string,
  options: CacheRunOptions,
): Promise<CacheRunResult> {
  const cache = await startNginx(
    cacheServer({
      upstreams: nodes.map((n) => n.url.replace('http://', '')),
      misconfigured: options.misconfigured,
    }),
  );
  try {
    const start = Date.now();
    const staged = await repo.release(
      publishTo,
      Math.ceil((start + options.releaseAfterMs) / 1000) * 1000,
    );
    const activation = tickStart(tick, staged.activationTick);
    const fleet = await runFleet({
      base: cache.url,
      agents: options.agents,
      groups: options.groups,
      intervalMs: options.intervalMs,
      untilMs: activation + tick.tickMs + options.intervalMs + 2000,
      tick,
      maxSockets: options.maxSockets,
    });
    const log = cache.accessLog();
    const toRelease = fleet.held.map((held) => {
      const at = held.get(staged.path);
      return at === undefined ? NaN : at - activation;
    });
    // For an agent that holds the release: the first snapshot version it was told of at or after
    // the activation is the one that carries it (an agent without it was never told of it).
    const toTold = fleet.toldAt.map((told, i) =>
      Number.isFinite(toRelease[i])
        ? Math.min(...[...told.values()].filter((at) => at >= activation)) - activation
        : Number.NaN,
    );
    return {
      options,
      fleet,
      activationTick: staged.activationTick,
      toRelease,
      toTold,
      onTime: toRelease.filter((ms) => ms <= tick.tickMs + options.intervalMs).length,
      requests: summarize(log),
      originPerPathTick: perPathTick(log, tick),
      hitShare: log.filter((e) => e.cache === 'HIT').length / Math.max(1, log.length),
    };
  } finally {
    await cache.stop();
  }
}

function summarize(log: AccessEntry[]): CacheRunResult['requests'] {
  const byKind = new Map<string, { kind: string; total: number; hits: number; origin: number }>();
  for (const e of log) {
    const kind = kindOf(e.path);
    const row = byKind.get(kind) ?? { kind, total: 0, hits: 0, origin: 0 };
    row.total++;
    if (e.cache === 'HIT') row.hits++;
    if (e.origin) row.origin++;
    byKind.set(kind, row);
  }
  return ['timestamp.json', 'N.snapshot.json', 'N.<role>.json', 'artifact'].flatMap(
    (k) => byKind.get(k) ?? [],
  );
}

function perPathTick(log: AccessEntry[], tick: TickConfig): CacheRunResult['originPerPathTick'] {
  const counts = new Map<string, number>();
  for (const e of log)
    if (e.origin && e.path.endsWith('/timestamp.json'))
      counts.set(
        `${e.path} ${tickAt(tick, e.atMs)}`,
        (counts.get(`${e.path} ${tickAt(tick, e.atMs)}`) ?? 0) + 1,
      );
  const values = [...counts.values()];
  return {
    mean: values.reduce((a, b) => a + b, 0) / Math.max(1, values.length),
    max: Math.max(0, ...values),
    pathTicks: values.length,
  };
}
