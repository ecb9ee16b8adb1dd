import { Hono } from 'hono';
import { sql } from 'kysely';
import { z } from 'zod';
import type { Db } from '../../db/schema.js';
import { groupName } from '../../common/names.js';
import { parseWith } from '../../tuf/schema.js';
import { readJson } from '../body.js';

export const reportSchema = z.strictObject({
  group: groupName,
  client: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/),
  product: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/),
  version: z.string().min(1).max(64),
  outcome: z.enum(['installed', 'failed']),
});

/** `POST /api/v1/reports`: agents' install outcomes, counted per group; `GET` sums them up. */
export function reportRoutes(deps: { db: Db; now: () => number }): Hono {
  const app = new Hono();
  app.post('/reports', async (c) => {
    const r = parseWith(reportSchema, await readJson(c, 4096), 'BAD_REQUEST');
    await deps.db
      .insertInto('install_reports')
      .values({
        grp: r.group,
        product: r.product,
        version: r.version,
        outcome: r.outcome,
        count: 1,
        updated_at: deps.now(),
      })
      .onConflict((oc) =>
        oc
          .columns(['grp', 'product', 'version', 'outcome'])
          .doUpdateSet({ count: sql`install_reports.count + 1`, updated_at: deps.now() }),
      )
      .execute();
    return c.json({ counted: true }, 201);
  });
  app.get('/reports', async (c) => {
    const rows = await deps.db
      .selectFrom('install_reports')
      .selectAll()
      .orderBy('grp')
      .orderBy('product')
      .orderBy('version')
      .execute();
    return c.json({
      reports: rows.map((r) => ({
        group: r.grp,
        product: r.product,
        version: r.version,
        outcome: r.outcome,
        count: Number(r.count),
      })),
    });
  });
  return app;
}
