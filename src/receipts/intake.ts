import { createHash } from 'node:crypto';
import { type VerifiedDocument, verifyTimestampDocument } from '../tuf/timestamp-document.js';
import type { Db } from '../db/schema.js';
import { FairpatchError } from '../errors.js';
import { leafBytes } from '../log/leaves.js';
import type { Sequencer } from '../log/sequencer.js';
import { canonicalBytes } from '../tuf/canonical.js';
import type { TufKey } from '../tuf/keys.js';
import { parseWith } from '../tuf/schema.js';
import { receiptBatchSchema } from './schema.js';

export interface IntakeResult {
  accepted: number;
  newDocuments: number;
  logIndex: number;
}

/**
 * Receives receipts: every document must be a timestamp signed by a key some trusted root
 * named; identical documents from many clients are verified and logged once; the batch becomes one
 * `receipts.batch` leaf. A batch is all-or-nothing: one bad receipt refuses it whole.
 */
export class ReceiptIntake {
  /** Digests already verified by this node: the common case is thousands of clients, one document per tick. */
  private readonly verified = new Map<string, VerifiedDocument>();

  constructor(
    private readonly db: Db,
    private readonly sequencer: Sequencer,
    private readonly timestampKeys: () => ReadonlyMap<string, TufKey>,
  ) {}

  async submit(body: unknown): Promise<IntakeResult> {
    const batch = parseWith(receiptBatchSchema, body, 'RECEIPT_INVALID');
    const documents: Record<string, string> = {};
    const observations = batch.receipts.map((r, i) => {
      const bytes = canonicalBytes(r.document);
      const digest = createHash('sha256').update(bytes).digest('hex');
      if (!this.verified.has(digest)) {
        const doc = verifyTimestampDocument(r.document, this.timestampKeys());
        if (!doc) throw new FairpatchError('RECEIPT_INVALID', `receipts.${i}: not a timestamp signed by a trusted timestamp key`);
        this.remember(doc);
      }
      documents[digest] = bytes.toString('utf8');
      return { document: digest, group: batch.group, client: batch.client, received_at: new Date(Date.parse(r.received_at)).toISOString() };
    });

    // Documents already in the log are referenced by digest only.
    const digests = Object.keys(documents);
    for (let i = 0; i < digests.length; i += 500) {
      const rows = await this.db.selectFrom('receipt_documents').select('digest').where('digest', 'in', digests.slice(i, i + 500)).execute();
      for (const r of rows) delete documents[r.digest];
    }
    const leaf = { type: 'receipts.batch' as const, v: 1 as const, documents, observations };
    const dedupe = 'receipts:' + createHash('sha256').update(canonicalBytes({ g: batch.group, c: batch.client, o: observations })).digest('hex');
    const logIndex = await this.sequencer.append({ dedupe, data: leafBytes(leaf) });
    // Recorded only once logged: a crash in between just logs the document text again next time.
    const fresh = Object.entries(documents);
    for (let i = 0; i < fresh.length; i += 200) {
      await this.db
        .insertInto('receipt_documents')
        .values(fresh.slice(i, i + 200).map(([digest, text]) => ({ digest, tick: this.verified.get(digest)?.tick ?? 0, document: text })))
        .onConflict((oc) => oc.column('digest').doNothing())
        .execute();
    }
    return { accepted: observations.length, newDocuments: fresh.length, logIndex };
  }

  private remember(doc: VerifiedDocument): void {
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(doc.digest, doc);
  }
}
