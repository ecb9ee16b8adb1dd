import { Hono } from 'hono';
import { evaluateFairness, type FairnessReport } from '../../audit/fairness.js';
import { renderReportHtml } from '../../audit/html.js';
import { parseLeaf, type Leaf } from '../../log/leaves.js';
import type { LogStore } from '../../log/store.js';
import type { Repository } from '../../release/repository.js';

/**
 * The dashboard at `/`: this node's own reading of its log, with the same evaluation an auditor
 * runs. It is a view for people, not evidence: the verdict that counts is an independent
 * `fairpatch audit`, which trusts nothing but the log key and the TUF root.
 */
export function dashboardRoutes(deps: { repo: Repository; log: LogStore }): Hono {
  const app = new Hono();
  let cached: { size: number; leaves: Array<{ index: number; leaf: Leaf }> } = { size: 0, leaves: [] };

  let queue: Promise<unknown> = Promise.resolve();
  // One reader at a time extends the cache.
  const report = (): Promise<FairnessReport> => {
    const next = queue.then(build, build);
    queue = next;
    return next;
  };
  const build = async (): Promise<FairnessReport> => {
    const { size } = await deps.log.head();
    // Leaves are immutable: only the ones added since the last view are read.
    for (let start = cached.size; start < size; start += 5000) {
      const entries = await deps.log.entries(start, Math.min(size, start + 5000));
      cached.leaves.push(...entries.map((e) => ({ index: e.index, leaf: parseLeaf(Buffer.from(e.data, 'utf8')) })));
    }
    cached = { size, leaves: cached.leaves };
    return evaluateFairness({ leaves: cached.leaves, timestampKeys: deps.repo.view.timestampKeys(), now: deps.repo.clock.now() });
  };

  app.get('/', async (c) => {
    const html = await renderReportHtml(await report(), 'fairpatch: releases and their delivery', `This node's reading of its transparency log at tick ${deps.repo.currentTick()}. Run fairpatch audit for an independent verdict.`);
    return c.html(html, 200, { 'Cache-Control': 'no-cache' });
  });
  app.get('/api/v1/report', async (c) => c.json(await report()));
  return app;
}
