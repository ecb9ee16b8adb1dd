import { z } from 'zod';
import { parseJson } from '../common/canonical.js';
import { FairpatchError } from '../errors.js';
import { type KeyPair, type Signature, sign, verify } from '../tuf/keys.js';
import { parseWith } from '../tuf/schema.js';
import { csafBytes } from './csaf.js';
import { advisoryInputSchema } from './input.js';
import type { AdvisoryRelease } from './release.js';

// The advisory's own TUF target, `<vendor>/<id>.advisory.json`: what the vendor wrote, and its
// Ed25519 signature over the CSAF document as it reads at the release's tick. The vendor's signed
// metadata carries the file's hash beside the fix's targets, so one activation makes both public
// and nothing else could: the log's activation leaf is the proof that they went out together.

/** Far above any advisory the input schema admits; the server reads no more than this of a blob. */
export const ADVISORY_FILE_MAX_BYTES = 256 * 1024;

const hex = (n: number) => z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`));

export const advisoryFileSchema = z.strictObject({
  fairpatch_advisory: z.literal(1),
  advisory: advisoryInputSchema,
  /**
   * The vendor key's detached signature over the CSAF document's bytes (revision 1, at the tick):
   * served as `<document>.sig`. Ed25519 over the exact bytes, not OpenPGP.
   */
  csaf_signature: z.strictObject({ keyid: hex(64), sig: hex(128) }),
});

export type AdvisoryFile = z.output<typeof advisoryFileSchema>;

/** The vendor's side: the file to upload, its signature made over the document every node will render. */
export function buildAdvisoryFile(release: AdvisoryRelease, vendorKey: KeyPair): Buffer {
  const file: AdvisoryFile = {
    fairpatch_advisory: 1,
    advisory: release.advisory,
    csaf_signature: sign(vendorKey, csafBytes(release)),
  };
  return Buffer.from(`${JSON.stringify(file, null, 2)}\n`, 'utf8');
}

/** Reads an advisory file from hostile bytes: bounded, strict, one coded error. */
export function parseAdvisoryFile(bytes: Uint8Array): AdvisoryFile {
  if (bytes.length > ADVISORY_FILE_MAX_BYTES)
    throw new FairpatchError(
      'ADVISORY_INVALID',
      `an advisory file holds at most ${ADVISORY_FILE_MAX_BYTES} bytes`,
    );
  let json: unknown;
  try {
    json = parseJson(bytes);
  } catch (cause) {
    throw new FairpatchError('ADVISORY_INVALID', 'the advisory file is not JSON', { cause });
  }
  try {
    return parseWith(advisoryFileSchema, json, 'BAD_REQUEST');
  } catch (error) {
    throw new FairpatchError(
      'ADVISORY_INVALID',
      `advisory file: ${(error as Error).message}`,
      error instanceof FairpatchError && error.details ? { details: error.details } : {},
    );
  }
}

/** Whether `signature` is the vendor's over the CSAF document `release` renders (revision 1). */
export function csafSignatureHolds(
  release: AdvisoryRelease,
  signature: Signature,
  vendorPublicKeyHex: string,
): boolean {
  const { withdrawnMs: _withdrawn, ...first } = release;
  return verify(vendorPublicKeyHex, csafBytes(first), signature.sig);
}
