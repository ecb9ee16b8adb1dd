import { Hono } from 'hono';
import type { DeliveryCounter } from '../release/accounting.js';
import type { BlobStore } from '../release/blobs.js';
import type { Repository } from '../release/repository.js';
import { errorResponse, notFound } from './errors.js';
import { DEFAULT_RATE_LIMITS, type RateLimits, rateLimit } from './rate-limit.js';
import { TRUST_NO_PROXY, type TrustProxy, clientAddressOf } from './client-address.js';
import { type PublisherLimits, publisherRoutes } from './routes/publisher.js';
import { tufRoutes } from './routes/tuf.js';
import { logRoutes } from './routes/log.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { reportRoutes } from './routes/reports.js';
import { type EventRouteOptions, eventRoutes } from './routes/events.js';
import type { Notifier } from '../release/notifier.js';
import { receiptRoutes } from './routes/receipts.js';
import type { LogStore } from '../log/store.js';
import type { ReceiptIntake } from '../receipts/intake.js';
import { NodeMetrics } from '../metrics/node-metrics.js';
import { metricsRoutes } from './metrics.js';
import { openApiRoutes } from './openapi.js';

export interface AppDeps {
  repo: Repository;
  blobs: BlobStore;
  counter: DeliveryCounter;
  log: LogStore;
  logVerifierKey: string;
  intake: ReceiptIntake;
  notifier: Notifier;
  eventOptions?: Partial<EventRouteOptions>;
  limits?: Partial<PublisherLimits>;
  rateLimits?: Partial<RateLimits>;
  /** A node refuses to serve metadata when its state is older than this; Infinity when not syncing. */
  maxStateAgeMs?: () => number;
  /** Which peers' X-Forwarded-For names the client (rate limits, stream caps); default none. */
  trustProxy?: TrustProxy;
  /** Where this app's measurements go (`GET /metrics`); a fresh set when absent. */
  metrics?: NodeMetrics;
}

export const DEFAULT_LIMITS: PublisherLimits = { maxJsonBytes: 4 * 1024 * 1024, maxArtifactBytes: 1024 * 1024 * 1024 };

/** Builds the Hono app from its dependencies; no I/O of its own. */
export function createApp(deps: AppDeps): Hono {
  const { repo, blobs, counter } = deps;
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  const rates = { ...DEFAULT_RATE_LIMITS, ...deps.rateLimits };
  const now = () => repo.clock.now();
  const app = new Hono();
  app.onError(errorResponse);
  app.notFound(notFound);
  const clientAddress = clientAddressOf(deps.trustProxy ?? TRUST_NO_PROXY);
  // Rate limits before any work: per address on every /api/v1 route, per token on the publisher's.
  const limiters = {
    publisher_per_address: rateLimit(rates.publisherPerAddress, clientAddress, now),
    agent_per_address: rateLimit(rates.agentPerAddress, clientAddress, now),
    publisher_per_token: rateLimit(rates.publisherPerToken, (c) => c.req.header('authorization') ?? clientAddress(c), now),
  };
  const perAddress = limiters.publisher_per_address.middleware;
  const agentPerAddress = limiters.agent_per_address.middleware;
  const perToken = limiters.publisher_per_token.middleware;
  const metrics = deps.metrics ?? new NodeMetrics();
  metrics.attach({
    tick: () => repo.currentTick(),
    stateAgeMs: () => repo.stateAge(),
    logSize: async () => (await deps.log.head()).size,
    streams: () => ({ open: deps.notifier.size, dropped: deps.notifier.dropped, refused: deps.notifier.refused }),
    rateLimits: () => Object.entries(limiters).map(([name, l]) => [name, { refusals: l.refusals, buckets: l.buckets.size }]),
  });
  app.use('/api/v1/receipts', agentPerAddress);
  app.use('/api/v1/reports', agentPerAddress);
  app.use('/api/v1/vendors/*', perAddress, perToken);
  app.use('/api/v1/vendors', perAddress, perToken);
  app.use('/api/v1/top-targets/*', perAddress, perToken);
  app.use('/api/v1/root', perAddress, perToken);
  app.get('/healthz', (c) => {
    const k = repo.currentTick();
    const last = deps.notifier.fanouts.at(-1);
    return c.json({
      ok: true,
      tick: k,
      snapshot_version: repo.view.snapshotVersionAt(k),
      state_age_ms: repo.stateAge(),
      streams: deps.notifier.size,
      last_fanout: last ? { tick: last.tick, started_at: last.startedAt, duration_ms: last.durationMs, connections: [...last.groups.values()].reduce((a, b) => a + b, 0), dropped: last.dropped } : null,
      rss_bytes: process.memoryUsage.rss(),
    });
  });
  app.route('/', eventRoutes({ repo, notifier: deps.notifier, clientAddress, ...(deps.eventOptions ? { options: deps.eventOptions } : {}) }));
  app.route('/', metricsRoutes(metrics));
  app.route('/', openApiRoutes());
  app.route('/', tufRoutes({ repo, blobs, counter, maxStateAgeMs: deps.maxStateAgeMs ?? (() => Infinity), onPoll: (group) => metrics.poll(group) }));
  app.route('/api/v1', publisherRoutes({ repo, blobs, limits }));
  app.route('/api/v1', receiptRoutes({ intake: deps.intake, maxJsonBytes: limits.maxJsonBytes, onOutcome: (outcome, accepted) => metrics.receipts(outcome, accepted) }));
  app.route('/api/v1', reportRoutes({ db: repo.store.db, now: () => repo.clock.now() }));
  app.route('/log', logRoutes({ log: deps.log, verifierKey: deps.logVerifierKey }));
  app.route('/', dashboardRoutes({ repo, log: deps.log }));
  return app;
}
