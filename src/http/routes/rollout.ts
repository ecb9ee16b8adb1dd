import { Hono } from 'hono';
import { FairpatchError } from '../../errors.js';
import type { LogStore } from '../../log/store.js';
import { RolloutEvidence } from '../../release/rollout-evidence.js';

/**
 * `GET /log/rollout-pauses?release=<vendor>/<product>@<version>`: the node's automatic pause of it.
 * `GET /log/rollout-salt?target=<vendor>/<file>`: the log's evidence for a staged release's lottery
 * salt (src/release/rollout-evidence.ts). Public like the rest of the log, and the same for every
 * group: it is read from the log, and every part of it is signed or proven.
 */
export function rolloutRoutes(deps: { log: LogStore }): Hono {
  const evidence = new RolloutEvidence(deps.log);
  const app = new Hono();
  app.get('/rollout-salt', async (c) => {
    const target = c.req.query('target');
    if (target === undefined) throw new FairpatchError('QUERY_INVALID', 'target is required');
    return c.json(await evidence.forTarget(target), 200, { 'Cache-Control': 'no-cache' });
  });
  // The node's automatic pause of a staged release, proven into the newest checkpoint.
  app.get('/rollout-pauses', async (c) => {
    const release = c.req.query('release');
    if (release === undefined) throw new FairpatchError('QUERY_INVALID', 'release is required');
    return c.json(await evidence.autoPauses(release), 200, { 'Cache-Control': 'no-cache' });
  });
  return app;
}
