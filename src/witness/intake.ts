import type { Db } from '../db/schema.js';
import { FairpatchError } from '../errors.js';
import { parseCheckpoint } from '../log/checkpoint.js';
import type { Sequencer } from '../log/sequencer.js';
import type { LogStore } from '../log/store.js';
import { receiptBatchSchema } from '../common/observation.js';
import type { WitnessAck, WitnessLeaf } from '../common/witness.js';
import { leafJsonBytes } from '../tuf/canonical.js';
import { parseWith } from '../tuf/schema.js';
import { verifyTimestampDocument } from '../tuf/timestamp-document.js';
import { type PerKeyBudget, counts } from '../receipts/budget.js';
import { checkReceiptBatch } from '../receipts/check.js';
import type { TrustedRoots } from './roots.js';

/** The dedupe name of a receipt in the witness log: its agent signature (one signature, one leaf). */
export const receiptDedupe = (sig: string): string => `receipt:${sig}`;

/**
 * Takes agents' signed receipts at a witness. The checks are the server's (src/receipts/intake.ts):
 * agent signature, a timestamp document signed by a key of the followed repository's roots, first_at
 * before last_at. Then the witness stamps its own receive time and appends one leaf per receipt to its
 * own log. The answer is sent only once the leaves are durably in the log under a signed checkpoint,
 * so an acknowledged receipt survives a crash; a receipt already logged is acknowledged with its index.
 */
export class WitnessIntake {
  /** Document digests already verified: a fleet sends the same few documents again and again. */
  private readonly verified = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly log: LogStore,
    private readonly sequencer: Sequencer,
    private readonly roots: TrustedRoots,
    private readonly budget: PerKeyBudget,
    private readonly now: () => number,
  ) {}

  async submit(body: unknown): Promise<WitnessAck> {
    const batch = parseWith(receiptBatchSchema, body, 'RECEIPT_INVALID');
    const texts = await checkReceiptBatch(
      batch,
      (digest) => this.verified.has(digest),
      async (digest, document) => {
        // An unknown key may be a rotation not followed yet: look for newer roots once, then judge.
        const ok =
          verifyTimestampDocument(document, this.roots.timestampKeys()) !== undefined ||
          ((await this.roots.refresh()) &&
            verifyTimestampDocument(document, this.roots.timestampKeys()) !== undefined);
        if (ok) {
          if (this.verified.size > 10_000) this.verified.clear();
          this.verified.add(digest);
        }
        return ok;
      },
      'not a timestamp signed by a timestamp key of the repository this witness follows',
    );

    const unique = [...new Map(batch.receipts.map((r) => [r.sig, r])).values()];
    const logged = await this.loggedIndices(unique.map((r) => r.sig));
    const fresh = unique.filter((r) => !logged.has(receiptDedupe(r.sig)));
    this.budget.charge(counts(fresh));

    // Documents first: a receipt in the log always has its document at hand, even after a crash here.
    const documents = [...new Set(fresh.map((r) => r.observation.document))].map((digest) => ({
      digest,
      tick: 0,
      document: texts.get(digest) as string,
    }));
    for (let i = 0; i < documents.length; i += 200) {
      await this.db
        .insertInto('receipt_documents')
        .values(documents.slice(i, i + 200))
        .onConflict((oc) => oc.column('digest').doNothing())
        .execute();
    }
    const receivedAt = new Date(this.now()).toISOString();
    const leaves: WitnessLeaf[] = fresh.map((receipt) => ({
      type: 'witness.receipt',
      v: 1,
      received_at: receivedAt,
      receipt,
    }));
    const appended = await this.sequencer.appendAll(
      leaves.map((leaf) => ({
        dedupe: receiptDedupe(leaf.receipt.sig),
        // Built from receipts the batch schema already parsed strictly: nothing else to check.
        data: leafJsonBytes(leaf), // parses back whatever text the agent wrote
      })),
    );
    // The log's index of every receipt: the first answer's for replays, the append's for the rest (a
    // receipt raced in by another request keeps its first leaf, and the append names that one).
    const indices = new Map(logged);
    for (const [i, leaf] of leaves.entries())
      indices.set(receiptDedupe(leaf.receipt.sig), appended[i] as number);
    const wanted = [...new Set(indices.values())];
    const data = new Map<number, string>();
    for (let i = 0; i < wanted.length; i += 500) {
      const rows = await this.db
        .selectFrom('log_leaves')
        .select(['idx', 'data'])
        .where('idx', 'in', wanted.slice(i, i + 500))
        .execute();
      for (const r of rows) data.set(Number(r.idx), r.data);
    }
    const checkpoint = await this.log.checkpoint();
    if (!checkpoint)
      throw new FairpatchError('INTERNAL', 'the witness log has no checkpoint after an append');
    // Proofs against that very checkpoint, so the agent checks inclusion without another round trip;
    // all of them from one read of the tree's nodes.
    const { size } = parseCheckpoint(checkpoint.slice(0, checkpoint.lastIndexOf('\n\n') + 1));
    const at = unique.map((r) => indices.get(receiptDedupe(r.sig)) as number);
    const proofs = await this.log.inclusionProofs(at, size);
    const entries: WitnessAck['entries'] = unique.map((r, i) => ({
      sig: r.sig,
      index: at[i] as number,
      leaf: data.get(at[i] as number) as string,
      proof: (proofs[i] as Uint8Array[]).map((h) => Buffer.from(h).toString('hex')),
    }));
    return {
      accepted: batch.receipts.length,
      replayed: unique.length - fresh.length,
      entries,
      checkpoint,
    };
  }

  private async loggedIndices(sigs: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const names = sigs.map(receiptDedupe);
    for (let i = 0; i < names.length; i += 500) {
      const rows = await this.db
        .selectFrom('log_leaves')
        .select(['dedupe', 'idx'])
        .where('dedupe', 'in', names.slice(i, i + 500))
        .execute();
      for (const r of rows) out.set(r.dedupe, Number(r.idx));
    }
    return out;
  }
}
