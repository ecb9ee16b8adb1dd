import { Hono } from 'hono';
import { sql } from 'kysely';
import type { SignedEnrollment } from '../../common/enrollment.js';
import { signedInstallReportSchema, verifyInstallReport } from '../../common/install-report.js';
import type { Db } from '../../db/schema.js';
import { FairpatchError } from '../../errors.js';
import type { IntakeBudget } from '../../receipts/budget.js';
import type { AutoPause } from '../../release/auto-pause.js';
import type { RepositoryStore } from '../../release/store.js';
import { parseWith } from '../../tuf/schema.js';
import { operatorOnly, requireToken } from '../auth.js';
import { readJson } from '../body.js';

/** How far a report's signing time may be from this node's clock: older ones are replays. */
export const REPORT_WINDOW_MS = 60 * 60_000;
/** Rows one `GET` answers at most. */
const MAX_ROWS = 10_000;
/** Report signatures remembered (a replay inside the window is acknowledged, not counted again). */
const MAX_SEEN = 100_000;

/**
 * `POST /api/v1/reports`: agents' install outcomes, each signed by the agent's key
 * (src/common/install-report.ts), counted per group; `GET` sums them up, for the operator only
 * (which group installed what, and what failed, is the operator's business, not everyone's).
 * A report is charged like a receipt: its key's budget, the unvouched pool, the client byte budget.
 */
export function reportRoutes(deps: {
  db: Db;
  store: RepositoryStore;
  now: () => number;
  budget: IntakeBudget;
  /** Checks the certificate a report carries as the receipt intake does, and remembers a vouched key. */
  admitEnrollment?: (
    certificate: SignedEnrollment,
    signer: { agent: string; group: string },
  ) => Promise<void>;
  /** Tallies failure reports of staged releases and pauses on vouched ones (src/release/auto-pause.ts). */
  autoPause?: Pick<AutoPause, 'report'>;
  /** Refuses (GROUP_UNDECLARED) a group the operator has not declared, once it has declared any. */
  assertDeclared: (groups: readonly string[]) => Promise<void>;
}): Hono {
  const app = new Hono();
  const seen = new Set<string>();
  app.post('/reports', async (c) => {
    const signed = parseWith(signedInstallReportSchema, await readJson(c, 4096), 'BAD_REQUEST');
    const r = signed.report;
    if (!verifyInstallReport(signed))
      throw new FairpatchError(
        'SIGNATURE_INVALID',
        'the agent signature does not verify (unsigned, altered or re-labelled)',
      );
    const now = deps.now();
    if (Math.abs(Date.parse(r.at) - now) > REPORT_WINDOW_MS)
      throw new FairpatchError(
        'BAD_REQUEST',
        `report.at is more than ${REPORT_WINDOW_MS / 60_000} minutes from this server's clock`,
      );
    await deps.assertDeclared([r.group]);
    // Before the charge: a key vouched for draws on its own budget, not the unvouched pool.
    if (signed.enrollment)
      await deps.admitEnrollment?.(signed.enrollment, { agent: r.agent, group: r.group });
    if (seen.has(signed.sig)) return c.json({ counted: true }, 201);
    // What the row can add to the database, charged before it is written.
    deps.budget.charge([r], r.group.length + r.product.length + r.version.length + 64);
    await deps.db
      .insertInto('install_reports')
      .values({
        grp: r.group,
        product: r.product,
        version: r.version,
        outcome: r.outcome,
        count: 1,
        updated_at: now,
      })
      .onConflict((oc) =>
        oc
          .columns(['grp', 'product', 'version', 'outcome'])
          .doUpdateSet({ count: sql`install_reports.count + 1`, updated_at: now }),
      )
      .execute();
    if (seen.size >= MAX_SEEN) seen.clear();
    seen.add(signed.sig);
    await deps.autoPause?.report(signed);
    return c.json({ counted: true }, 201);
  });
  app.get('/reports', requireToken(deps.store, operatorOnly), async (c) => {
    const rows = await deps.db
      .selectFrom('install_reports')
      .selectAll()
      .orderBy('grp')
      .orderBy('product')
      .orderBy('version')
      .limit(MAX_ROWS + 1)
      .execute();
    return c.json({
      // Product and version names come from agents: one answer is bounded, and says when it is.
      ...(rows.length > MAX_ROWS ? { truncated: true } : {}),
      reports: rows.slice(0, MAX_ROWS).map((r) => ({
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
