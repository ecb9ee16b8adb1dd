import type { Db } from '../db/schema.js';
import { FairpatchError } from '../errors.js';
import { parseCheckpoint } from '../log/checkpoint.js';
import type { Sequencer } from '../log/sequencer.js';
import type { LogStore } from '../log/store.js';
import type { SignedObservation } from '../common/observation.js';
import type { WitnessAck } from '../common/witness.js';
import { verifyTimestampDocument } from '../tuf/timestamp-document.js';
import type { IntakeBudget } from '../receipts/budget.js';
import { judgeReceiptBatch } from '../receipts/check.js';
import type { ReceiptCheckers } from '../receipts/checkers.js';
import { witnessLeafBytes } from './leaf.js';
import { checkBatchEnrollments } from '../receipts/enrollments.js';
import { leafJsonBytes } from '../common/canonical.js';
import type { TrustedRoots } from './roots.js';

/** The dedupe name of a receipt in the witness log: its agent signature (one signature, one leaf). */
export const receiptDedupe = (sig: string): string => `receipt:${sig}`;

/** The dedupe name of an owner's certificate in the witness log: the owner's signature. */
const enrollmentDedupe = (sig: string): string => `enrollment:${sig}`;

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
  /** Signatures logged lately (a retry after a lost answer is not charged to its key again), bounded. */
  private readonly seen = new Set<string>();
  /** Documents stored lately (not charged again), bounded. */
  private readonly stored = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly log: LogStore,
    private readonly sequencer: Sequencer,
    private readonly roots: TrustedRoots,
    /** Per key, the unvouched pool and the bytes clients may add (src/receipts/budget.ts). */
    private readonly budget: IntakeBudget,
    private readonly checkers: ReceiptCheckers,
    private readonly now: () => number,
  ) {}

  /** Takes the request body's text (JSON), as read from the client. */
  async submit(text: string): Promise<WitnessAck> {
    const { batch, prepared } = await this.checkers.prepare(text);
    const texts = await judgeReceiptBatch(
      batch,
      prepared,
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

    // One leaf per signature, the first of the batch; receipts logged lately are not charged again.
    const firsts = new Map<string, number>();
    for (const [i, r] of batch.receipts.entries()) if (!firsts.has(r.sig)) firsts.set(r.sig, i);
    const unique = [...firsts.values()].map((i) => ({
      receipt: batch.receipts[i] as SignedObservation,
      observation: prepared.observations[i] as string,
    }));
    const receivedAt = new Date(this.now()).toISOString();
    const leaves = unique.map((u) => witnessLeafBytes(receivedAt, u.receipt, u.observation));
    // The signers' certificates, each logged once (by its owner's signature) after the receipts.
    const certificates = batch.enrollments ?? [];
    checkBatchEnrollments(
      certificates,
      batch.receipts.map((r) => r.observation),
    );
    const certificateLeaves = certificates
      .filter((e) => !this.seen.has(e.sig))
      .map((enrollment) => ({
        dedupe: enrollmentDedupe(enrollment.sig),
        data: leafJsonBytes({
          type: 'witness.enrollment',
          v: 1,
          received_at: receivedAt,
          enrollment,
        }),
      }));
    // Charged before anything is written: the leaves and any document not stored yet.
    const charged = unique.flatMap((u, i) =>
      this.seen.has(u.receipt.sig) ? [] : [{ ...u.receipt.observation, bytes: leaves[i]!.length }],
    );
    const documentBytes = [...new Set(unique.map((u) => u.receipt.observation.document))]
      .filter((digest) => !this.stored.has(digest))
      .reduce((n, digest) => n + (texts.get(digest)?.length ?? 0), 0);
    this.budget.charge(
      charged,
      charged.reduce((n, c) => n + c.bytes, 0) +
        documentBytes +
        certificateLeaves.reduce((n, l) => n + l.data.length, 0),
    );

    // Documents first: a receipt in the log always has its document at hand, even after a crash here.
    const documents = [...new Set(unique.map((u) => u.receipt.observation.document))].map(
      (digest) => ({ digest, tick: 0, document: texts.get(digest) as string }),
    );
    for (let i = 0; i < documents.length; i += 200) {
      await this.db
        .insertInto('receipt_documents')
        .values(documents.slice(i, i + 200))
        .onConflict((oc) => oc.column('digest').doNothing())
        .execute();
    }
    for (const d of documents) this.remember(d.digest, this.stored);
    // The log keeps the first leaf of each signature: a replay, or a receipt raced in by another
    // request, is answered with that leaf (read back), not the one built here.
    const placed = await this.sequencer.placeAll(
      unique.map((u, i) => ({ dedupe: receiptDedupe(u.receipt.sig), data: leaves[i] as Buffer })),
    );
    for (const u of unique) this.remember(u.receipt.sig);
    if (certificateLeaves.length > 0) {
      await this.sequencer.placeAll(certificateLeaves);
      for (const e of certificates) this.remember(e.sig);
    }
    const data = new Map<number, string>();
    for (const [i, p] of placed.entries())
      if (p.appended) data.set(p.index, (leaves[i] as Buffer).toString('utf8'));
    const earlier = placed.filter((p) => !p.appended).map((p) => p.index);
    for (let i = 0; i < earlier.length; i += 500) {
      const rows = await this.db
        .selectFrom('log_leaves')
        .select(['idx', 'data'])
        .where('idx', 'in', earlier.slice(i, i + 500))
        .execute();
      for (const r of rows) data.set(Number(r.idx), r.data);
    }
    const checkpoint = await this.log.checkpoint();
    if (!checkpoint)
      throw new FairpatchError('INTERNAL', 'the witness log has no checkpoint after an append');
    // Proofs against that very checkpoint, so the agent checks inclusion without another round trip;
    // all of them from one read of the tree's nodes.
    const { size } = parseCheckpoint(checkpoint.slice(0, checkpoint.lastIndexOf('\n\n') + 1));
    const at = placed.map((p) => p.index);
    const proofs = await this.log.inclusionProofs(at, size);
    // The proofs of one batch share most of their hashes (the same objects): each is written out once.
    const hex = new Map<Uint8Array, string>();
    const toHex = (h: Uint8Array): string => {
      let text = hex.get(h);
      if (text === undefined)
        hex.set(h, (text = Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString('hex')));
      return text;
    };
    const entries: WitnessAck['entries'] = unique.map((u, i) => ({
      sig: u.receipt.sig,
      index: at[i] as number,
      leaf: data.get(at[i] as number) as string,
      proof: (proofs[i] as Uint8Array[]).map(toHex),
    }));
    return {
      accepted: batch.receipts.length,
      replayed: placed.filter((p) => !p.appended).length,
      entries,
      checkpoint,
    };
  }

  private remember(item: string, set = this.seen): void {
    if (set.size > 200_000) set.clear();
    set.add(item);
  }
}
