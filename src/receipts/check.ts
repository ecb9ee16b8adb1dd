import { createHash } from 'node:crypto';
import {
  type ReceiptBatch,
  receiptBatchSchema,
  verifyObservationsCanonical,
} from '../common/observation.js';
import { FairpatchError } from '../errors.js';
import { canonicalBytes, parseJson } from '../common/canonical.js';
import { parseWith } from '../tuf/schema.js';

// The checks every receipt intake makes (the repository node's and a witness's), in two halves. The
// first needs nothing but the body's text: JSON, the schema, each document's digest, every agent
// signature. It is nearly all of the CPU an intake spends, holds no state, and so runs off the event
// loop (src/receipts/checkers.ts). The second needs the intake's state (which roots it trusts) and is cheap.

/** What the first half found, in a form a worker thread can send back (no class instances). */
export interface PreparedBatch {
  /** Each document's canonical text and whether it hashes to the digest it is named by, in body order. */
  documents: Array<{ digest: string; text: string; hashes: boolean }>;
  /** Each receipt's observation as OLPC canonical JSON (`canonicalText`): what its signature covers. */
  observations: string[];
  /** Each receipt's signature verdict, in order. */
  valid: boolean[];
}

/** The first half: parses and validates the body, hashes its documents, checks every signature. */
export async function prepareReceiptBatch(
  text: string,
): Promise<{ batch: ReceiptBatch; prepared: PreparedBatch }> {
  const batch = parseWith(receiptBatchSchema, parseJson(text), 'RECEIPT_INVALID');
  const documents = Object.entries(batch.documents).map(([digest, document]) => {
    const bytes = canonicalBytes(document);
    return {
      digest,
      text: bytes.toString('utf8'),
      hashes: createHash('sha256').update(bytes).digest('hex') === digest,
    };
  });
  const { valid, canonical } = await verifyObservationsCanonical(batch.receipts);
  return {
    batch,
    prepared: { documents, observations: canonical, valid },
  };
}

/**
 * The second half: each document is a timestamp `trusted` accepts (asked once per digest not yet
 * `known`), each observation carries a valid agent signature, names a document of the batch and a
 * run that does not end before it starts. The first faulty item, in body order, is the refusal.
 * Returns the documents' canonical text by digest.
 */
export async function judgeReceiptBatch(
  batch: ReceiptBatch,
  prepared: PreparedBatch,
  known: (digest: string) => boolean,
  trusted: (digest: string, document: unknown) => boolean | Promise<boolean>,
  refusal: string,
): Promise<Map<string, string>> {
  const texts = new Map<string, string>();
  for (const { digest, text, hashes } of prepared.documents) {
    if (!hashes)
      throw new FairpatchError(
        'RECEIPT_INVALID',
        `documents.${digest}: the document does not hash to its name`,
      );
    if (!known(digest) && !(await trusted(digest, batch.documents[digest])))
      throw new FairpatchError('RECEIPT_INVALID', `documents.${digest}: ${refusal}`);
    texts.set(digest, text);
  }
  for (const [i, r] of batch.receipts.entries()) {
    if (!prepared.valid[i])
      throw new FairpatchError(
        'SIGNATURE_INVALID',
        `receipts.${i}: the agent signature does not verify (unsigned, altered or re-labelled)`,
      );
    if (!texts.has(r.observation.document))
      throw new FairpatchError(
        'RECEIPT_INVALID',
        `receipts.${i}: document ${r.observation.document} is not in the batch`,
      );
    if (Date.parse(r.observation.first_at) > Date.parse(r.observation.last_at))
      throw new FairpatchError('RECEIPT_INVALID', `receipts.${i}: first_at is after last_at`);
  }
  return texts;
}
