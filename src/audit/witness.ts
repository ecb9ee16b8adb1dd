import { FairpatchError } from '../errors.js';
import {
  type WitnessLeaf,
  witnessEnrollmentLeafSchema,
  witnessLeafSchema,
  witnessPageSchema,
} from '../common/witness.js';
import { openCheckpoint } from '../log/checkpoint.js';
import { parseVerifierKey } from '../log/note.js';
import { leafHash } from '../log/merkle.js';
import { CompactRange } from '../log/tiles.js';
import { TileReader } from './tile-reader.js';
import { reach } from '../net/unreachable.js';
import { ClientError, expectOk } from '../net/errors.js';
import { textAtMost } from '../net/bounded.js';
import { MAX_ENTRIES_ANSWER_BYTES } from '../log/limits.js';
import { parseJson } from '../common/canonical.js';
import type { ExternalEvidence } from './observations.js';

async function getJson(base: string, path: string): Promise<unknown> {
  const response = await expectOk(
    await reach(new URL(path, base), { timeoutMs: 30_000 }),
    `witness ${base}${path}`,
  );
  // Pages are bounded in bytes (src/log/limits.ts): a witness sending more is refused, not read.
  try {
    return parseJson(await textAtMost(response, MAX_ENTRIES_ANSWER_BYTES));
  } catch (error) {
    if (error instanceof FairpatchError || error instanceof ClientError) throw error;
    throw new FairpatchError(
      'PROOF_INVALID',
      `witness ${base}${path}: ${(error as Error).message}`,
    );
  }
}

/**
 * Every leaf of a witness's log up to a checkpoint its key signed, recomputed into that checkpoint's
 * root (RFC 9162 2.1.1): with the key pinned, the witness cannot show the auditor a different set of
 * receipts than the one its signed log commits to.
 */
export async function verifiedLeaves(url: string, vkey: string): Promise<string[]> {
  const verifier = parseVerifierKey(vkey);
  const response = await reach(new URL('/log/checkpoint', url), { timeoutMs: 30_000 });
  if (response.status === 404) return [];
  await expectOk(response, `witness ${url}/log/checkpoint`);
  const checkpoint = openCheckpoint(await response.text(), verifier);
  // Its log's tiles (C2SP tlog-tiles), as the audited server's: every entry, hashed into its root.
  const leaves: string[] = [];
  const range = CompactRange.empty();
  await new TileReader(url, checkpoint.size, checkpoint.rootHash).entries(
    0,
    checkpoint.size,
    (_, leaf) => {
      range.append(leafHash(leaf));
      leaves.push(leaf.toString('utf8'));
    },
  );
  if (!Buffer.from(range.root()).equals(checkpoint.rootHash))
    throw new FairpatchError(
      'PROOF_INVALID',
      `witness ${url}: its entries do not hash to its signed checkpoint`,
    );
  return leaves;
}

/**
 * Reads every receipt a witness logged (`GET /receipts`, paged) as evidence from outside the
 * audited server, source `witness <URL>`. With the witness's verifier key, only receipts in its
 * signed log count; without it the witness is trusted for completeness only (each receipt is still
 * checked for its agent signature and document by the audit).
 */
export async function fetchWitnessEvidence(url: string, vkey?: string): Promise<ExternalEvidence> {
  const committed = vkey ? await verifiedLeaves(url, vkey) : undefined;
  const documents: Record<string, unknown> = {};
  const receipts: WitnessLeaf['receipt'][] = [];
  const enrollments: unknown[] = [];
  let after: number | undefined;
  for (;;) {
    const page = witnessPageSchema.parse(
      await getJson(url, `/receipts${after === undefined ? '' : `?after=${after}`}`),
    );
    Object.assign(documents, page.documents);
    for (const e of page.entries) {
      if (committed) {
        if (e.index >= committed.length) continue; // logged after the checkpoint read: next audit
        if (committed[e.index] !== e.leaf)
          throw new FairpatchError(
            'PROOF_INVALID',
            `witness ${url}: receipt ${e.index} is not the leaf its signed log holds`,
          );
      }
      const leaf = parseJson(e.leaf);
      const parsed = witnessLeafSchema.safeParse(leaf);
      if (parsed.success) receipts.push(parsed.data.receipt);
      const certificate = witnessEnrollmentLeafSchema.safeParse(leaf);
      if (certificate.success) enrollments.push(certificate.data.enrollment);
    }
    if (page.next === undefined || (after !== undefined && page.next <= after)) break;
    after = page.next;
  }
  return { source: `witness ${url}`, documents, receipts, enrollments };
}
