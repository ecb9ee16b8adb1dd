import type { Db } from '../db/schema.js';
import { FairpatchError } from '../errors.js';
import { parseCheckpoint } from '../log/checkpoint.js';
import type { Sequencer } from '../log/sequencer.js';
import type { LogStore } from '../log/store.js';
import type { WitnessAck } from '../common/witness.js';
import { leafJsonBytes } from '../common/canonical.js';
import { storeDocuments } from '../receipts/documents.js';
import type {
  AdmittedBatch,
  PlannedWrite,
  ReceiptLedger,
  TimestampTrust,
} from '../receipts/intake.js';
import { verifyTimestampDocument } from '../tuf/timestamp-document.js';
import { witnessLeafBytes } from './leaf.js';
import type { TrustedRoots } from './roots.js';

/** The dedupe name of a receipt in the witness log: its agent signature (one signature, one leaf). */
const receiptDedupe = (sig: string): string => `receipt:${sig}`;

/** The dedupe name of an owner's certificate in the witness log: the owner's signature. */
const enrollmentDedupe = (sig: string): string => `enrollment:${sig}`;

/**
 * A witness takes receipts about the timestamps of the repository it follows. An unknown key may be
 * a rotation not followed yet: it looks for newer roots once, then judges.
 */
export function followedTimestamps(roots: TrustedRoots): TimestampTrust {
  return {
    verify: async (document) =>
      verifyTimestampDocument(document, roots.timestampKeys()) ??
      ((await roots.refresh())
        ? verifyTimestampDocument(document, roots.timestampKeys())
        : undefined),
    refusal: 'not a timestamp signed by a timestamp key of the repository this witness follows',
  };
}

/**
 * The witness's ledger: it stamps its own receive time and appends one leaf per receipt to its own
 * log, then each certificate of the batch once. The answer is given only once the leaves are durably
 * in the log under a signed checkpoint, so an acknowledged receipt survives a crash; a receipt
 * already logged is answered with its index.
 */
export class WitnessLedger implements ReceiptLedger<WitnessAck> {
  /** Documents stored lately (not charged again), bounded. */
  private readonly stored = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly log: LogStore,
    private readonly sequencer: Sequencer,
    private readonly now: () => number,
  ) {}

  async plan(admitted: AdmittedBatch): Promise<PlannedWrite<WitnessAck>> {
    const { receipts, texts, certificates } = admitted;
    const receivedAt = new Date(this.now()).toISOString();
    const leaves = receipts.map((r) => witnessLeafBytes(receivedAt, r.receipt, r.observation));
    const certificateLeaves = certificates.map((enrollment) => ({
      dedupe: enrollmentDedupe(enrollment.sig),
      data: leafJsonBytes({
        type: 'witness.enrollment',
        v: 1,
        received_at: receivedAt,
        enrollment,
      }),
    }));
    const digests = [...new Set(receipts.map((r) => r.receipt.observation.document))];
    // Charged: the leaves of receipts not logged lately, any document not stored yet, the certificates.
    const charged = receipts.flatMap((r, i) =>
      r.lately ? [] : [{ ...r.receipt.observation, bytes: (leaves[i] as Buffer).length }],
    );
    const bytes =
      charged.reduce((n, c) => n + c.bytes, 0) +
      digests
        .filter((digest) => !this.stored.has(digest))
        .reduce((n, digest) => n + (texts.get(digest)?.length ?? 0), 0) +
      certificateLeaves.reduce((n, l) => n + l.data.length, 0);
    return {
      charged,
      bytes,
      certificates,
      write: async () => {
        // Documents first: a receipt in the log always has its document at hand, even after a crash here.
        await storeDocuments(
          this.db,
          digests.map((digest) => ({ digest, tick: 0, document: texts.get(digest) as string })),
        );
        for (const digest of digests) this.remember(digest);
        // The log keeps the first leaf of each signature: a replay, or a receipt raced in by another
        // request, is answered with that leaf (read back), not the one built here.
        const placed = await this.sequencer.placeAll(
          receipts.map((r, i) => ({
            dedupe: receiptDedupe(r.receipt.sig),
            data: leaves[i] as Buffer,
          })),
        );
        if (certificateLeaves.length > 0) await this.sequencer.placeAll(certificateLeaves);
        return {
          accepted: admitted.batch.receipts.length,
          replayed: placed.filter((p) => !p.appended).length,
          ...(await this.entries(
            placed,
            leaves,
            receipts.map((r) => r.receipt.sig),
          )),
        };
      },
    };
  }

  /** Each receipt's leaf (read back if logged before) and its proof, under the log's checkpoint. */
  private async entries(
    placed: ReadonlyArray<{ index: number; appended: boolean }>,
    leaves: readonly Buffer[],
    sigs: readonly string[],
  ): Promise<Pick<WitnessAck, 'entries' | 'checkpoint'>> {
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
    return {
      entries: sigs.map((sig, i) => ({
        sig,
        index: at[i] as number,
        leaf: data.get(at[i] as number) as string,
        proof: (proofs[i] as Uint8Array[]).map(toHex),
      })),
      checkpoint,
    };
  }

  private remember(digest: string): void {
    if (this.stored.size > 200_000) this.stored.clear();
    this.stored.add(digest);
  }
}
