import { createHash } from 'node:crypto';
import { type VerifiedDocument, verifyTimestampDocument } from '../tuf/timestamp-document.js';
import type { Db } from '../db/schema.js';
import { leafBytes } from '../log/leaves.js';
import type { Sequencer } from '../log/sequencer.js';
import type { TufKey } from '../tuf/keys.js';
import { PerKeyBudget, counts } from './budget.js';
import { judgeReceiptBatch } from './check.js';
import type { ReceiptCheckers } from './checkers.js';

export interface IntakeResult {
  accepted: number;
  newDocuments: number;
  logIndex: number;
}

/**
 * Receives agents' signed observations: each must carry a valid agent signature (unsigned or
 * re-labelled ones are refused), name a timestamp document signed by a key some trusted root named,
 * and stay within what one agent key may add per minute. Identical documents from many agents are
 * verified and logged once; an observation already logged (same signature) is acknowledged, not
 * logged again. The batch becomes one `receipts.batch` leaf; one bad receipt refuses it whole.
 */
export class ReceiptIntake {
  /** Digests already verified by this node: the common case is thousands of agents, one document per tick. */
  private readonly verified = new Map<string, VerifiedDocument>();
  /** Signatures already logged by this node (a retry after a lost answer), bounded. */
  private readonly seen = new Set<string>();
  private readonly budget: PerKeyBudget;

  constructor(
    private readonly db: Db,
    private readonly sequencer: Sequencer,
    private readonly timestampKeys: () => ReadonlyMap<string, TufKey>,
    private readonly checkers: ReceiptCheckers,
    now: () => number,
    /** The node's settings receiptsPerKeyPerMinute and receiptMaxKeys (src/server/config.ts). */
    budget: { perKeyPerMinute: number; maxKeys: number },
  ) {
    this.budget = new PerKeyBudget(budget.perKeyPerMinute, now, budget.maxKeys);
  }

  /** Takes the request body's text (JSON), as read from the client. */
  async submit(text: string): Promise<IntakeResult> {
    const { batch, prepared } = await this.checkers.prepare(text);
    const texts = await judgeReceiptBatch(
      batch,
      prepared,
      (digest) => this.verified.has(digest),
      (_digest, document) => {
        const doc = verifyTimestampDocument(document, this.timestampKeys());
        if (doc) this.remember(doc);
        return doc !== undefined;
      },
      'not a timestamp signed by a trusted timestamp key',
    );
    const fresh = batch.receipts.filter((r) => !this.seen.has(r.sig));
    this.budget.charge(counts(fresh));
    if (fresh.length === 0)
      return { accepted: batch.receipts.length, newDocuments: 0, logIndex: -1 };

    // Documents already in the log are referenced by digest only.
    const named = [...new Set(fresh.map((r) => r.observation.document))];
    const documents: Record<string, string> = {};
    for (const d of named) {
      const text = texts.get(d);
      if (text) documents[d] = text;
    }
    const digests = Object.keys(documents);
    for (let i = 0; i < digests.length; i += 500) {
      const rows = await this.db
        .selectFrom('receipt_documents')
        .select('digest')
        .where('digest', 'in', digests.slice(i, i + 500))
        .execute();
      for (const r of rows) delete documents[r.digest];
    }
    const leaf = { type: 'receipts.batch' as const, v: 2 as const, documents, receipts: fresh };
    const dedupe =
      'receipts:' +
      createHash('sha256')
        .update(fresh.map((r) => r.sig).join(','))
        .digest('hex');
    const logIndex = await this.sequencer.append({ dedupe, data: leafBytes(leaf) });
    for (const r of fresh) this.remember(r.sig);
    // Recorded only once logged: a crash in between just logs the document text again next time.
    const logged = Object.entries(documents);
    for (let i = 0; i < logged.length; i += 200) {
      await this.db
        .insertInto('receipt_documents')
        .values(
          logged.slice(i, i + 200).map(([digest, text]) => ({
            digest,
            tick: this.verified.get(digest)?.tick ?? 0,
            document: text,
          })),
        )
        .onConflict((oc) => oc.column('digest').doNothing())
        .execute();
    }
    return { accepted: batch.receipts.length, newDocuments: logged.length, logIndex };
  }

  private remember(item: VerifiedDocument | string): void {
    if (typeof item === 'string') {
      if (this.seen.size > 200_000) this.seen.clear();
      this.seen.add(item);
      return;
    }
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(item.digest, item);
  }
}
