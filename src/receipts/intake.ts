import { createHash } from 'node:crypto';
import { type VerifiedDocument, verifyTimestampDocument } from '../tuf/timestamp-document.js';
import type { Db } from '../db/schema.js';
import { FairpatchError } from '../errors.js';
import { leafBytes } from '../log/leaves.js';
import type { Sequencer } from '../log/sequencer.js';
import { canonicalBytes } from '../tuf/canonical.js';
import type { TufKey } from '../tuf/keys.js';
import { parseWith } from '../tuf/schema.js';
import {
  type SignedObservation,
  receiptBatchSchema,
  verifyObservation,
} from '../common/observation.js';

export interface IntakeResult {
  accepted: number;
  newDocuments: number;
  logIndex: number;
}

/** Observations one agent key may add per minute: a run per poll path is a few a minute. */
export const DEFAULT_PER_KEY_PER_MINUTE = 600;

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
  private readonly perKey = new Map<string, { minute: number; count: number }>();

  constructor(
    private readonly db: Db,
    private readonly sequencer: Sequencer,
    private readonly timestampKeys: () => ReadonlyMap<string, TufKey>,
    private readonly now: () => number = Date.now,
    private readonly perKeyPerMinute = DEFAULT_PER_KEY_PER_MINUTE,
  ) {}

  async submit(body: unknown): Promise<IntakeResult> {
    const batch = parseWith(receiptBatchSchema, body, 'RECEIPT_INVALID');
    const texts = new Map<string, string>();
    for (const [digest, document] of Object.entries(batch.documents)) {
      const bytes = canonicalBytes(document);
      if (createHash('sha256').update(bytes).digest('hex') !== digest)
        throw new FairpatchError(
          'RECEIPT_INVALID',
          `documents.${digest}: the document does not hash to its name`,
        );
      if (!this.verified.has(digest)) {
        const doc = verifyTimestampDocument(document, this.timestampKeys());
        if (!doc)
          throw new FairpatchError(
            'RECEIPT_INVALID',
            `documents.${digest}: not a timestamp signed by a trusted timestamp key`,
          );
        this.remember(doc);
      }
      texts.set(digest, bytes.toString('utf8'));
    }
    const fresh = batch.receipts.filter((r) => !this.seen.has(r.sig));
    for (const [i, r] of batch.receipts.entries()) {
      if (!verifyObservation(r))
        throw new FairpatchError(
          'SIGNATURE_INVALID',
          `receipts.${i}: the agent signature does not verify (unsigned, altered or re-labelled)`,
        );
      if (!texts.has(r.observation.document)) {
        throw new FairpatchError(
          'RECEIPT_INVALID',
          `receipts.${i}: document ${r.observation.document} is not in the batch`,
        );
      }
      if (Date.parse(r.observation.first_at) > Date.parse(r.observation.last_at))
        throw new FairpatchError('RECEIPT_INVALID', `receipts.${i}: first_at is after last_at`);
    }
    this.charge(fresh);
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

  /** Counts observations per agent key per minute; over the bound, the whole batch waits (429). */
  private charge(receipts: readonly SignedObservation[]): void {
    const minute = Math.floor(this.now() / 60_000);
    const counts = new Map<string, number>();
    for (const r of receipts)
      counts.set(r.observation.agent, (counts.get(r.observation.agent) ?? 0) + 1);
    for (const [agent, n] of counts) {
      const entry = this.perKey.get(agent);
      const used = entry?.minute === minute ? entry.count : 0;
      if (used + n > this.perKeyPerMinute)
        throw new FairpatchError(
          'RATE_LIMITED',
          `agent ${agent.slice(0, 16)}… sent more than ${this.perKeyPerMinute} observations this minute`,
          { details: { retryAfterSeconds: 60 - Math.floor((this.now() % 60_000) / 1000) } },
        );
    }
    if (this.perKey.size > 100_000) this.perKey.clear();
    for (const [agent, n] of counts) {
      const entry = this.perKey.get(agent);
      this.perKey.set(agent, { minute, count: (entry?.minute === minute ? entry.count : 0) + n });
    }
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
