import type { OwnersByGroup } from '../common/enrollment.js';
import { Hono, type MiddlewareHandler } from 'hono';
import type { DatabaseMonitor } from '../db/monitor.js';
import { FairpatchError } from '../errors.js';
import type { ClockOffset } from '../serving/clock-offset.js';
import type { DeliveryCounter } from '../serving/accounting.js';
import type { BlobStore } from '../storage/blobs.js';
import type { Repository } from '../release/repository.js';
import { errorResponse, notFound } from './errors.js';
import { type RateLimits, rateLimit } from './rate-limit.js';
import { TRUST_NO_PROXY, type TrustProxy, clientAddressOf } from './client-address.js';
import { type PublisherLimits, publisherRoutes } from './routes/publisher.js';
import { embargoRoutes } from './routes/embargoes.js';
import { tufRoutes } from './routes/tuf.js';
import { advisoryRoutesFor } from './routes/advisories.js';
import { logRoutes } from './routes/log.js';
import { rolloutRoutes } from './routes/rollout.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { reportRoutes } from './routes/reports.js';
import type { AutoPause } from '../release/auto-pause.js';
import { type EventRouteOptions, eventRoutes } from './routes/events.js';
import type { Notifier } from '../serving/notifier.js';
import { receiptRoutes } from './routes/receipts.js';
import type { LogStore } from '../log/store.js';
import type { ReceiptIntake } from '../receipts/intake.js';
import type { IntakeResult } from '../receipts/batch-ledger.js';
import type { IntakeBudget } from '../receipts/budget.js';
import { groupRoutes } from './routes/groups.js';
import { switchRecords } from '../serving/timestamp.js';
import type { NodeMetrics } from '../metrics/node-metrics.js';
import { metricsRoutes } from './metrics.js';
import { openApiRoutes } from './openapi.js';

export interface AppDeps {
  repo: Repository;
  blobs: BlobStore;
  counter: DeliveryCounter;
  log: LogStore;
  logVerifierKey: string;
  /** Witnesses cosign the log: `/log/checkpoint` serves the newest checkpoint they cosigned. */
  logWitnessed?: boolean;
  intake: ReceiptIntake<IntakeResult>;
  /** What install reports may cost: per key, the unvouched pool, the client byte budget. */
  reportBudget: IntakeBudget;
  /** Pauses a staged release on vouched agents' failure reports (absent: never). */
  autoPause?: AutoPause;
  /** Leaf bytes the dashboard keeps in memory at most (the node's dashboardMaxLogBytes setting). */
  dashboardMaxLogBytes: number;
  /** Declares the customer groups into the log (the operator's `PUT /api/v1/groups`). */
  declareGroups?: (groups: string[], owners?: OwnersByGroup) => Promise<number>;
  notifier: Notifier;
  /** These three are the node's settings (src/server/config.ts), where their defaults live. */
  eventOptions: EventRouteOptions;
  limits: PublisherLimits;
  rateLimits: RateLimits;
  /** A node refuses to serve metadata when its state is older than this; Infinity when not syncing. */
  maxStateAgeMs?: () => number;
  /** Whether the database answers (fed by the refresh loop); writes fail at once while it does not. */
  monitor?: DatabaseMonitor;
  /** Storage this node writes to, each check throwing STORAGE_UNAVAILABLE naming its path. */
  storageChecks?: Array<() => Promise<void>>;
  /** This node's clock against the database's: past `maxSkewMs`, what a tick shows is not served. */
  clock?: { offset: ClockOffset; maxSkewMs: number };
  /** Which peers' X-Forwarded-For names the client (rate limits, stream caps); default none. */
  trustProxy?: TrustProxy;
  /** The URL clients reach the repository at, for CSAF's absolute URLs (default: each request's origin). */
  publicUrl?: string;
  /** Where this app's measurements go (`GET /metrics`). */
  metrics: NodeMetrics;
}

/** Builds the Hono app from its dependencies; no I/O of its own. */
export function createApp(deps: AppDeps): Hono {
  const { repo, blobs, counter } = deps;
  const { limits, rateLimits: rates } = deps;
  const now = () => repo.clock.now();
  const app = new Hono();
  app.onError(errorResponse);
  app.notFound(notFound);
  const clientAddress = clientAddressOf(deps.trustProxy ?? TRUST_NO_PROXY);
  // Rate limits before any work: per address on every /api/v1 route, per token on the publisher's.
  const limiters = {
    publisher_per_address: rateLimit(rates.publisherPerAddress, clientAddress, now),
    agent_per_address: rateLimit(rates.agentPerAddress, clientAddress, now),
    publisher_per_token: rateLimit(
      rates.publisherPerToken,
      (c) => c.req.header('authorization') ?? clientAddress(c),
      now,
    ),
  };
  const perAddress = limiters.publisher_per_address.middleware;
  const agentPerAddress = limiters.agent_per_address.middleware;
  const perToken = limiters.publisher_per_token.middleware;
  const { metrics } = deps;
  metrics.attach({
    tick: () => repo.currentTick(),
    stateAgeMs: () => repo.stateAge(),
    logSize: async () => (await deps.log.head()).size,
    streams: () => ({
      open: deps.notifier.size,
      dropped: deps.notifier.dropped,
      refused: deps.notifier.refused,
    }),
    rateLimits: () =>
      Object.entries(limiters).map(([name, l]) => [
        name,
        { refusals: l.refusals, buckets: l.buckets.size },
      ]),
  });
  app.use('/api/v1/receipts', agentPerAddress);
  app.use('/api/v1/reports', agentPerAddress);
  app.use('/api/v1/vendors/*', perAddress, perToken);
  app.use('/api/v1/vendors', perAddress, perToken);
  app.use('/api/v1/top-targets/*', perAddress, perToken);
  app.use('/api/v1/root', perAddress, perToken);
  app.use('/api/v1/groups', perAddress, perToken);
  app.use('/api/v1/embargoes', perAddress, perToken);
  app.use('/api/v1/embargoes/*', perAddress, perToken);
  // Writes and log reads need the database: while it is known to be away they fail at once (503,
  // DATABASE_UNAVAILABLE, Retry-After) instead of each waiting out a connect timeout.
  const monitor = deps.monitor;
  if (monitor) {
    const gate: MiddlewareHandler = async (_c, next) => {
      monitor.assertReachable();
      await next();
    };
    app.use('/api/v1/*', gate);
    app.use('/log/*', gate);
  }
  const maxStateAgeMs = deps.maxStateAgeMs ?? (() => Infinity);
  const storage = cached(deps.storageChecks ?? [], now);
  app.get('/healthz', async (c) => {
    const k = repo.currentTick();
    const last = deps.notifier.fanouts.at(-1);
    const age = repo.stateAge();
    const problems = [...(await storage()), ...repo.keyProblems()];
    if (age > maxStateAgeMs())
      problems.push(
        `state is ${age} ms old, older than the ${maxStateAgeMs()} ms this node may serve`,
      );
    const clock = deps.clock;
    const reading = clock?.offset.best;
    if (clock && reading && clock.offset.skewed(clock.maxSkewMs))
      problems.push(
        `clock is ${Math.round(-reading.offsetMs)} ms off the database's, more than the ${clock.maxSkewMs} ms allowed`,
      );
    const database = monitor?.status ?? { reachable: true };
    return c.json(
      {
        ok: problems.length === 0,
        problems,
        database,
        tick: k,
        // The tick clock itself, so that a client or a cache monitor can tell which tick any moment is.
        epoch_ms: repo.config.epochMs,
        tick_ms: repo.config.tickMs,
        snapshot_version: repo.view.snapshotVersionAt(k),
        state_age_ms: age,
        clock: reading
          ? {
              offset_ms: Math.round(reading.offsetMs),
              rtt_ms: Math.round(reading.rttMs * 100) / 100,
              // How far the tick clock is held back so that it never runs ahead of the database's.
              correction_ms: Math.round(clock!.offset.correction() * 100) / 100,
              max_skew_ms: clock!.maxSkewMs,
              measured_at: Math.round(reading.at),
            }
          : null,
        max_state_age_ms: Number.isFinite(maxStateAgeMs()) ? maxStateAgeMs() : null,
        streams: deps.notifier.size,
        last_fanout: last
          ? {
              tick: last.tick,
              started_at: last.startedAt,
              duration_ms: last.durationMs,
              connections: [...last.groups.values()].reduce((a, b) => a + b, 0),
              dropped: last.dropped,
            }
          : null,
        // When this process first served the last activation tick's document, by its own clock.
        switch: switchRecords(repo).lastActivation ?? null,
        // `?switches`: the same for each of the last ticks (every tick switches documents).
        ...(c.req.query('switches') !== undefined
          ? { recent_switches: switchRecords(repo).recent }
          : {}),
        rss_bytes: process.memoryUsage.rss(),
        // Which process answered: one of several workers of a node (serve --workers) reports its own.
        pid: process.pid,
      },
      problems.length === 0 ? 200 : 503,
    );
  });
  app.route(
    '/',
    eventRoutes({
      repo,
      notifier: deps.notifier,
      clientAddress,
      options: deps.eventOptions,
    }),
  );
  app.route('/', metricsRoutes(metrics));
  app.route('/', openApiRoutes());
  const assertClock = (): void => {
    const clock = deps.clock;
    if (!clock?.offset.skewed(clock.maxSkewMs)) return;
    const offsetMs = Math.round(clock.offset.best?.offsetMs ?? 0);
    throw new FairpatchError(
      'CLOCK_SKEW',
      `this node's clock is ${-offsetMs} ms off the database's (at most ${clock.maxSkewMs} ms allowed); it does not decide what a tick shows`,
      {
        details: { offset_ms: offsetMs, max_skew_ms: clock.maxSkewMs, retryAfterSeconds: 5 },
      },
    );
  };
  app.route(
    '/',
    tufRoutes({
      repo,
      blobs,
      counter,
      maxStateAgeMs,
      assertClock,
      onPoll: (group) => metrics.poll(group),
    }),
  );
  const { publicUrl } = deps;
  app.route('/', advisoryRoutesFor({ repo, blobs, maxStateAgeMs, assertClock, publicUrl }));
  app.route('/api/v1', publisherRoutes({ repo, blobs, limits }));
  app.route(
    '/api/v1',
    embargoRoutes({ repo, embargoes: repo.embargoes, maxJsonBytes: limits.maxJsonBytes }),
  );
  if (deps.declareGroups)
    app.route(
      '/api/v1',
      groupRoutes({
        store: repo.store,
        declare: deps.declareGroups,
        maxJsonBytes: limits.maxJsonBytes,
      }),
    );
  app.route(
    '/api/v1',
    receiptRoutes({
      intake: deps.intake,
      maxJsonBytes: limits.maxJsonBytes,
      onOutcome: (outcome, accepted) => metrics.receipts(outcome, accepted),
    }),
  );
  app.route(
    '/api/v1',
    reportRoutes({
      db: repo.store.db,
      store: repo.store,
      now: () => repo.clock.now(),
      budget: deps.reportBudget,
      admitEnrollment: (certificate, signer) => deps.intake.admitEnrollment(certificate, signer),
      ...(deps.autoPause ? { autoPause: deps.autoPause } : {}),
      assertDeclared: (groups) => deps.intake.assertDeclared(groups),
    }),
  );
  app.route(
    '/log',
    logRoutes({
      log: deps.log,
      verifierKey: deps.logVerifierKey,
      witnessed: deps.logWitnessed ?? false,
    }),
  );
  app.route('/log', rolloutRoutes({ log: deps.log }));
  app.route(
    '/',
    dashboardRoutes({
      repo,
      log: deps.log,
      maxLogBytes: deps.dashboardMaxLogBytes,
    }),
  );
  return app;
}

/** Runs the storage checks at most once a second (they write a file), returning the problems found. */
function cached(checks: Array<() => Promise<void>>, now: () => number): () => Promise<string[]> {
  let last: { at: number; problems: Promise<string[]> } | undefined;
  return () => {
    if (!last || now() - last.at >= 1000 || now() < last.at) {
      const problems = Promise.all(
        checks.map((check) =>
          check().then(
            () => undefined,
            (error: unknown) => (error as Error).message,
          ),
        ),
      ).then((all) => all.filter((p): p is string => p !== undefined));
      last = { at: now(), problems };
    }
    return last.problems;
  };
}
