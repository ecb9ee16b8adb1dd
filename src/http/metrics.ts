import { Hono } from 'hono';
import { CONTENT_TYPE } from '../metrics/registry.js';
import type { NodeMetrics } from '../metrics/node-metrics.js';

/**
 * `GET /metrics`: this node's metrics in the Prometheus text exposition format 0.0.4. Like `/healthz`
 * it is unauthenticated and says nothing a poller could not count itself; group names in it were
 * validated where they arrived and their number is capped.
 */
export function metricsRoutes(metrics: NodeMetrics): Hono {
  const app = new Hono();
  app.get('/metrics', async (c) =>
    c.body(await metrics.render(), 200, {
      'Content-Type': CONTENT_TYPE,
      'Cache-Control': 'no-store',
    }),
  );
  return app;
}
