import { z } from 'zod';
import { canonicalBytes } from '../common/canonical.js';
import { type TufKey, verify } from './keys.js';
import { sha256Hex } from './metadata.js';
import { parseIsoSeconds } from './time.js';

/** A timestamp document an agent accepted, as the auditor reads it. */
export interface VerifiedDocument {
  /** sha256 of the whole document's canonical bytes: what receipts name. */
  digest: string;
  /**
   * sha256 of the canonical bytes of `signed`: the statement itself. Two documents with one statement
   * differ only in their signatures, which anyone can add to (never remove from) a signed statement.
   */
  signedDigest: string;
  tick: number;
  snapshotVersion: number;
  expiresAt: number;
  bytes: Buffer;
}

const hex = (n: number) => z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`));
const int = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

// Strict where a third party could otherwise dress up the operator's statement: the envelope and each
// signature (anyone can append a signature or a top-level field to a document they were served, and
// so make a second "document" of one statement). Inside `signed`, the fields fairpatch's timestamps
// carry are typed exactly (src/tuf/roles.ts buildTimestamp: fairpatch_clock, the snapshot's version,
// length and sha256), and others are kept: TUF (spec 4.1) lets a signer add fields there, clients
// (tuf-js in the agent) verify the signature over them, and only the signer can add one. Refusing
// them would let the accused make its own statements inadmissible.
const timestampSchema = z.strictObject({
  signed: z
    .object({
      _type: z.literal('timestamp'),
      spec_version: z.string().max(32),
      version: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
      expires: z.string().refine((s) => parseIsoSeconds(s) !== undefined),
      meta: z
        .object({
          'snapshot.json': z
            .object({
              version: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
              length: int.optional(),
              hashes: z
                .object({ sha256: hex(64) })
                .loose()
                .optional(),
            })
            .loose(),
        })
        .loose(),
      fairpatch_clock: z
        .object({ epoch_ms: int, tick_ms: int.min(1) })
        .loose()
        .optional(),
    })
    .loose(),
  signatures: z
    .array(z.strictObject({ keyid: hex(64), sig: hex(128) }))
    .min(1)
    .max(16),
});

/** sha256 of the document's canonical bytes: identical documents from many clients share one digest. */
export function documentDigest(document: unknown): string {
  return sha256Hex(canonicalBytes(document));
}

/**
 * Verifies a timestamp document against the timestamp keys of any trusted root version (keys rotate;
 * receipts outlive them). Every signature it carries must be by a distinct trusted timestamp key and
 * verify: a document someone padded with a junk, duplicated or foreign signature, or with a field
 * outside `signed`, is not one the repository produced. Undefined when it is not such a document: a
 * "receipt" of it is no evidence of anything and is reported, not counted.
 */
export function verifyTimestampDocument(
  document: unknown,
  timestampKeys: ReadonlyMap<string, TufKey>,
): VerifiedDocument | undefined {
  const parsed = timestampSchema.safeParse(document);
  if (!parsed.success) return undefined;
  const { signed, signatures } = parsed.data;
  if (new Set(signatures.map((s) => s.keyid)).size !== signatures.length) return undefined;
  // The original's `signed`, not zod's copy: the signature covers the bytes as they were sent.
  const signedBytes = canonicalBytes((document as { signed: unknown }).signed);
  for (const { keyid, sig } of signatures) {
    const key = timestampKeys.get(keyid);
    if (!key || !verify(key.keyval.public, signedBytes, sig)) return undefined;
  }
  const bytes = canonicalBytes(document);
  return {
    digest: sha256Hex(bytes),
    signedDigest: sha256Hex(signedBytes),
    tick: signed.version,
    snapshotVersion: signed.meta['snapshot.json'].version,
    expiresAt: parseIsoSeconds(signed.expires) ?? 0,
    bytes,
  };
}
