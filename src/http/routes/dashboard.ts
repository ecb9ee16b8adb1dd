import { Hono } from 'hono';
import { evaluateFairness, type FairnessReport } from '../../audit/fairness.js';
import { type CheckpointView, renderReportHtml } from '../../audit/html.js';
import { newVerificationCache } from '../../audit/observations.js';
import { parseCheckpoint } from '../../log/checkpoint.js';
import { cosignatureLines } from '../../log/cosignature.js';
import { parseLeaf, type Leaf } from '../../log/leaves.js';
import type { LogStore } from '../../log/store.js';
import type { Repository } from '../../release/repository.js';

/** How stale the page may be: a rebuild at most this often, whatever the traffic. */
const REBUILD_MS = 2000;

/**
 * The dashboard at `/`: this node's own reading of its log, with the same evaluation an auditor
 * runs. It is a view for people, not evidence: the verdict that counts is an independent
 * `fairpatch audit`, which trusts nothing but the log key and the TUF root.
 *
 * It stays off the poll path: leaves are read once (they are immutable), every document and
 * signature is verified once, ever, and the page is rebuilt at most every REBUILD_MS in the
 * background; requests get the last page built, so a burst of readers costs one rebuild.
 */
export function dashboardRoutes(deps: { repo: Repository; log: LogStore }): Hono {
  const app = new Hono();
  const leaves: Array<{ index: number; leaf: Leaf }> = [];
  const cache = newVerificationCache();
  let built: { at: number; report: FairnessReport; html: string } | undefined;
  let building: Promise<NonNullable<typeof built>> | undefined;

  const build = async (): Promise<NonNullable<typeof built>> => {
    const { size } = await deps.log.head();
    for (let start = leaves.length; start < size; start += 5000) {
      const entries = await deps.log.entries(start, Math.min(size, start + 5000));
      leaves.push(
        ...entries.map((e) => ({ index: e.index, leaf: parseLeaf(Buffer.from(e.data, 'utf8')) })),
      );
    }
    const now = deps.repo.clock.now();
    const report = evaluateFairness({
      leaves,
      timestampKeys: deps.repo.view.timestampKeys(),
      now,
      cache,
    });
    const html = await renderReportHtml(
      report,
      'fairpatch: releases and their delivery',
      `This node's reading of its transparency log at tick ${deps.repo.currentTick()} (${new Date(now).toISOString()}). Run fairpatch audit for an independent verdict.`,
      await latestCheckpoint(deps.log),
    );
    built = { at: now, report, html };
    return built;
  };

  const current = async (): Promise<NonNullable<typeof built>> => {
    const fresh = built && deps.repo.clock.now() - built.at < REBUILD_MS;
    if (!building && !fresh) {
      building = build().finally(() => {
        building = undefined;
      });
    }
    // The first reader waits for a page; later ones get the last one while the next is built.
    return built ?? (building as Promise<NonNullable<typeof built>>);
  };

  app.get('/', async (c) => c.html((await current()).html, 200, { 'Cache-Control': 'no-cache' }));
  app.get('/api/v1/report', async (c) => c.json((await current()).report));
  return app;
}

/** The newest checkpoint this node serves at `/log/checkpoint`, with the cosignatures it carries. */
async function latestCheckpoint(log: LogStore): Promise<CheckpointView | null> {
  const latest = await log.latestCheckpoint();
  if (!latest) return null;
  const { note, createdAt } = latest;
  const { size, rootHash } = parseCheckpoint(note.slice(0, note.lastIndexOf('\n\n') + 1));
  return {
    size,
    rootHash: rootHash.toString('hex'),
    signedAt: createdAt,
    cosigners: cosignatureLines(note),
  };
}
