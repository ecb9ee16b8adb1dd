import { Hono } from 'hono';
import { FairpatchError } from '../../errors.js';
import type { LogStore } from '../../log/store.js';
import type { Repository } from '../../release/repository.js';
import { type DashboardPage, DashboardRebuild } from '../dashboard-rebuild.js';

/**
 * The dashboard at `/`: this node's own reading of its log, with the same evaluation an auditor
 * runs. It is a view for people, not evidence: the verdict that counts is an independent
 * `fairpatch audit`, which trusts nothing but the log key and the TUF root.
 *
 * It stays off the poll path: leaves are read once (they are immutable), every document and
 * signature is verified once, ever, and the page is rebuilt in the background (src/http/
 * dashboard-rebuild.ts); requests get the last page built, so a burst of readers costs one rebuild.
 * A rebuild that fails leaves the last good page served, saying it is stale and why: never a 500.
 */
export function dashboardRoutes(deps: {
  repo: Repository;
  log: LogStore;
  /** Leaf bytes the dashboard keeps in memory at most (the node's dashboardMaxLogBytes). */
  maxLogBytes: number;
}): Hono {
  const app = new Hono();
  const rebuild = new DashboardRebuild(deps);

  const current = async (): Promise<DashboardPage> => {
    const under = rebuild.kick();
    // The first reader waits for a page; later ones get the last one while the next is built.
    if (!rebuild.page) await under;
    if (rebuild.page) return rebuild.page;
    throw new FairpatchError(
      'NOT_READY',
      `the dashboard has no page yet: ${rebuild.stale?.reason ?? 'the first rebuild is under way'}`,
      { details: { retryAfterSeconds: 5 } },
    );
  };

  app.get('/', async (c) => c.html((await current()).html, 200, { 'Cache-Control': 'no-cache' }));
  app.get('/api/v1/report', async (c) => {
    const page = await current();
    return c.json({ ...page.report, dashboard: rebuild.status() });
  });
  return app;
}
