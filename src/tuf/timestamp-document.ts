import { canonicalBytes } from './canonical.js';
import type { TufKey } from './keys.js';
import {
  type Envelope,
  type TimestampSigned,
  countValidSignatures,
  sha256Hex,
} from './metadata.js';
import { z } from 'zod';
import { parseIsoSeconds } from './time.js';

/** A timestamp document an agent accepted, as the auditor reads it. */
export interface VerifiedDocument {
  digest: string;
  tick: number;
  snapshotVersion: number;
  expiresAt: number;
  bytes: Buffer;
}

const timestampSchema = z.object({
  signed: z
    .object({
      _type: z.literal('timestamp'),
      version: z.number().int().min(1),
      expires: z.string(),
      meta: z.object({ 'snapshot.json': z.object({ version: z.number().int().min(1) }).loose() }),
    })
    .loose(),
  signatures: z.array(z.object({ keyid: z.string(), sig: z.string() })).max(16),
});

/** sha256 of the document's canonical bytes: identical documents from many clients share one digest. */
export function documentDigest(document: unknown): string {
  return sha256Hex(canonicalBytes(document));
}

/**
 * Verifies a timestamp document against the timestamp keys of any trusted root version (keys rotate;
 * receipts outlive them). Undefined when it is not a validly signed timestamp: such a "receipt" is no
 * evidence of anything and is reported, not counted.
 */
export function verifyTimestampDocument(
  document: unknown,
  timestampKeys: ReadonlyMap<string, TufKey>,
): VerifiedDocument | undefined {
  const parsed = timestampSchema.safeParse(document);
  if (!parsed.success) return undefined;
  const keys = Object.fromEntries(timestampKeys);
  const env = parsed.data as unknown as Envelope<TimestampSigned>;
  if (countValidSignatures(env, { keyids: [...timestampKeys.keys()], threshold: 1 }, keys) < 1)
    return undefined;
  const bytes = canonicalBytes(document);
  return {
    digest: sha256Hex(bytes),
    tick: parsed.data.signed.version,
    snapshotVersion: parsed.data.signed.meta['snapshot.json'].version,
    expiresAt: parseIsoSeconds(parsed.data.signed.expires) ?? 0,
    bytes,
  };
}
