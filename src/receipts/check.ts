import { createHash } from 'node:crypto';
import { type ReceiptBatch, verifyObservations } from '../common/observation.js';
import { FairpatchError } from '../errors.js';
import { canonicalBytes } from '../tuf/canonical.js';

/**
 * The checks every receipt intake makes (the repository node's and a witness's), in one place: each
 * document hashes to its name and is a timestamp `trusted` accepts (asked once per digest not yet
 * `known`), each observation carries a valid agent signature, names a document of the batch and a
 * run that does not end before it starts. Returns the documents' canonical text by digest. The
 * signatures are checked together, on every core; the first faulty receipt (in order) is the refusal.
 */
export async function checkReceiptBatch(
  batch: ReceiptBatch,
  known: (digest: string) => boolean,
  trusted: (digest: string, document: unknown) => boolean | Promise<boolean>,
  refusal: string,
): Promise<Map<string, string>> {
  const texts = new Map<string, string>();
  for (const [digest, document] of Object.entries(batch.documents)) {
    const bytes = canonicalBytes(document);
    if (createHash('sha256').update(bytes).digest('hex') !== digest)
      throw new FairpatchError(
        'RECEIPT_INVALID',
        `documents.${digest}: the document does not hash to its name`,
      );
    if (!known(digest) && !(await trusted(digest, document)))
      throw new FairpatchError('RECEIPT_INVALID', `documents.${digest}: ${refusal}`);
    texts.set(digest, bytes.toString('utf8'));
  }
  const valid = await verifyObservations(batch.receipts);
  for (const [i, r] of batch.receipts.entries()) {
    if (!valid[i])
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
