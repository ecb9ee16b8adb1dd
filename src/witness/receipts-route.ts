import { Hono } from 'hono';
import type { Db } from '../db/schema.js';
import { FairpatchError } from '../errors.js';
import { intParam } from '../http/query.js';
import { ENTRIES_PAGE_BYTES } from '../log/limits.js';
import type { LogStore } from '../log/store.js';
import { GROUP_PATTERN } from '../common/names.js';
import type { WitnessPage } from '../common/witness.js';
import { parseJson } from '../common/canonical.js';

/** Leaves scanned per page (and at most ENTRIES_PAGE_BYTES of them): fewer entries when `group` filters them. */
export const PAGE = 1000;

/**
 * `GET /receipts?group=&after=N`: logged receipts with index > N (from the first without `after`), in
 * log order, with the documents they name; `next` is the `after` of the following page. (`POST
 * /receipts` is the node's route, src/http/routes/receipts.ts, over the witness's ledger.)
 */
export function receiptPageRoutes(deps: { db: Db; log: LogStore }): Hono {
  const app = new Hono();
  app.get('/receipts', async (c) => {
    const group = c.req.query('group');
    if (group !== undefined && !GROUP_PATTERN.test(group))
      throw new FairpatchError('QUERY_INVALID', 'group is not a group name');
    const start = c.req.query('after') === undefined ? 0 : intParam(c, 'after') + 1;
    const { size } = await deps.log.head();
    const rows = await deps.log.entriesPage(
      start,
      Math.min(size, start + PAGE),
      ENTRIES_PAGE_BYTES,
    );
    const entries =
      group === undefined
        ? rows
        : rows.filter((r) => {
            const leaf = parseJson(r.data) as WitnessLeafShape;
            return (
              (leaf.receipt?.observation?.group ?? leaf.enrollment?.enrollment?.group) === group
            );
          });
    // Receipt leaves name a document; certificate leaves (witness.enrollment) do not.
    const digests = [
      ...new Set(
        entries.flatMap((r) => {
          const document = (parseJson(r.data) as WitnessLeafShape).receipt?.observation?.document;
          return document === undefined ? [] : [document];
        }),
      ),
    ];
    const documents: Record<string, unknown> = {};
    for (let i = 0; i < digests.length; i += 500) {
      const docs = await deps.db
        .selectFrom('receipt_documents')
        .select(['digest', 'document'])
        .where('digest', 'in', digests.slice(i, i + 500))
        .execute();
      for (const d of docs) documents[d.digest] = parseJson(d.document);
    }
    const last = rows.at(-1)?.index;
    const page: WitnessPage = {
      entries: entries.map((r) => ({ index: r.index, leaf: r.data })),
      documents,
      size,
      ...(last !== undefined && last < size - 1 ? { next: last } : {}),
    };
    return c.json(page);
  });
  return app;
}

/** What the page reads of a leaf it wrote itself: a receipt's group and document, a certificate's group. */
interface WitnessLeafShape {
  receipt?: { observation?: { group?: string; document?: string } };
  enrollment?: { enrollment?: { group?: string } };
}
