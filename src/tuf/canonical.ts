import { canonicalize } from '@tufjs/canonical-json';
import { FairpatchError } from '../errors.js';

/**
 * OLPC canonical JSON bytes (TUF spec 4.2: "signed" is signed in canonical JSON).
 * Floats and undefined are not encodable: that is a bug in our own builders, or hostile input
 * that slipped past validation, so it becomes METADATA_INVALID rather than a TypeError.
 */
export function canonicalBytes(value: unknown): Buffer {
  try {
    return Buffer.from(canonicalize(value), 'utf8');
  } catch (cause) {
    throw new FairpatchError(
      'METADATA_INVALID',
      'value cannot be encoded as canonical JSON (floats are not allowed)',
      { cause },
    );
  }
}

/** Parses JSON from untrusted bytes without leaking SyntaxError. */
export function parseJson(
  bytes: Uint8Array | string,
  code: 'JSON_INVALID' | 'METADATA_INVALID' = 'JSON_INVALID',
): unknown {
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new FairpatchError(code, 'body is not valid JSON');
  }
}
