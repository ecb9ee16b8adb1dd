import type { SignedEnrollment } from '../common/enrollment.js';
import { canonicalBytes } from '../common/canonical.js';
import { witnessAckSchema, witnessLeafSchema } from '../common/witness.js';
import { openCheckpoint } from '../log/checkpoint.js';
import { leafHash, verifyInclusion } from '../log/merkle.js';
import { parseVerifierKey } from '../log/note.js';
import { reach } from '../net/unreachable.js';
import { httpFailure } from '../net/errors.js';
import { FairpatchError } from '../errors.js';
import { type Receipt, type ReceiptStore, receiptBatch } from './receipt-store.js';

export interface WitnessTarget {
  url: string;
  /** The witness's C2SP verifier key: only checkpoints it signed prove a receipt was logged. */
  vkey: string;
}

const BATCH = 500;

/**
 * Delivers receipts to one witness and marks them delivered only once proven logged: the witness's
 * answer gives each receipt's leaf, index and RFC 9162 inclusion proof (2.1.3.2) in a checkpoint
 * signed by the pinned witness key (C2SP tlog-checkpoint). An answer that does not prove it leaves
 * the receipt pending, to be sent again (the witness acknowledges a replay with its first index).
 */
export async function deliverToWitness(
  witness: WitnessTarget,
  store: ReceiptStore,
  options: {
    attempts?: number;
    wait?: (ms: number) => Promise<void>;
    /** The owner's certificate of this agent, sent along so the witness's log carries it too. */
    enrollment?: SignedEnrollment;
  } = {},
): Promise<number> {
  const verifier = parseVerifierKey(witness.vkey);
  const attempts = options.attempts ?? 3;
  const wait = options.wait ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  const pending = store.unsubmitted(witness.url);
  let delivered = 0;
  for (let i = 0; i < pending.length; i += BATCH) {
    const batch = pending.slice(i, i + BATCH);
    for (let attempt = 1; ; attempt++) {
      try {
        store.markSubmitted(
          await sendProven(witness.url, verifier, batch, options.enrollment),
          witness.url,
        );
        break;
      } catch (error) {
        if (attempt >= attempts) throw error;
        await wait(500 * 2 ** (attempt - 1));
      }
    }
    delivered += batch.length;
  }
  return delivered;
}

async function sendProven(
  url: string,
  verifier: ReturnType<typeof parseVerifierKey>,
  batch: readonly Receipt[],
  enrollment: SignedEnrollment | undefined,
): Promise<Receipt[]> {
  const response = await reach(new URL('/receipts', url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(receiptBatch(batch, enrollment)),
    timeoutMs: 15_000,
  });
  if (response.status !== 201)
    throw httpFailure(`witness ${url}`, response.status, {
      detail: (await response.text()).slice(0, 200),
    });
  const ack = witnessAckSchema.parse(await response.json());
  const checkpoint = openCheckpoint(ack.checkpoint, verifier);
  const bySig = new Map(ack.entries.map((e) => [e.sig, e]));
  for (const r of batch) {
    const entry = bySig.get(r.signed.sig);
    if (!entry)
      throw new FairpatchError('PROOF_INVALID', `witness ${url}: no log entry for a receipt sent`);
    const leaf = witnessLeafSchema.parse(JSON.parse(entry.leaf));
    if (!canonicalBytes(leaf.receipt).equals(canonicalBytes(r.signed)))
      throw new FairpatchError(
        'PROOF_INVALID',
        `witness ${url}: the leaf at ${entry.index} is not this receipt`,
      );
    verifyInclusion(
      entry.index,
      checkpoint.size,
      leafHash(Buffer.from(entry.leaf, 'utf8')),
      entry.proof.map((h) => Buffer.from(h, 'hex')),
      checkpoint.rootHash,
    );
  }
  return [...batch];
}
