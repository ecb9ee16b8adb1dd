import { Hono, type MiddlewareHandler } from 'hono';
import { FairpatchError } from '../../errors.js';
import { type Embargoes, parseEmbargoId } from '../../release/embargo.js';
import type { Repository } from '../../release/repository.js';
import { type AuthEnv, operatorOnly, requireToken } from '../auth.js';
import { readJson } from '../body.js';

const anyToken = (): boolean => true;

/**
 * Embargoes (`/api/v1/embargoes`): the coordinator (operator token) creates, moves and decides; a
 * member reads the state with its vendor token. Before and after its tick, anyone else, a request
 * without a token included, gets the 404 a missing embargo gets: its existence is the secret.
 */
export function embargoRoutes(deps: {
  repo: Repository;
  embargoes: Embargoes;
  maxJsonBytes: number;
}): Hono<AuthEnv> {
  const { repo, embargoes, maxJsonBytes } = deps;
  const app = new Hono<AuthEnv>();
  const asOperator = requireToken(repo.store, operatorOnly);
  const tokenOrHidden: MiddlewareHandler<AuthEnv> = async (c, next) => {
    if (!c.req.header('authorization')?.trim())
      throw new FairpatchError('NOT_FOUND', 'no such embargo');
    return requireToken(repo.store, anyToken)(c, next);
  };

  app.post('/embargoes', asOperator, async (c) =>
    c.json(await embargoes.create(await readJson(c, maxJsonBytes)), 201),
  );

  app.get('/embargoes/:id', tokenOrHidden, async (c) => {
    const principal = c.get('principal');
    const view = await embargoes.view(
      parseEmbargoId(c.req.param('id')),
      principal.kind === 'operator' ? null : principal.vendor,
    );
    return c.json(view, 200, { 'Cache-Control': 'no-store' });
  });

  app.post('/embargoes/:id/move', asOperator, async (c) =>
    c.json(
      await embargoes.move(parseEmbargoId(c.req.param('id')), await readJson(c, maxJsonBytes)),
    ),
  );

  app.post('/embargoes/:id/decide', asOperator, async (c) =>
    c.json(
      await embargoes.leaveOut(parseEmbargoId(c.req.param('id')), await readJson(c, maxJsonBytes)),
    ),
  );

  return app;
}
