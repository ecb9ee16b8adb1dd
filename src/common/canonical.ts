import { canonicalize } from '@tufjs/canonical-json';
import { FairpatchError } from '../errors.js';

/**
 * OLPC canonical JSON bytes (TUF spec 4.2: "signed" is signed in canonical JSON).
 * Floats and undefined are not encodable: that is a bug in our own builders, or hostile input
 * that slipped past validation, so it becomes METADATA_INVALID rather than a TypeError.
 */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalText(value), 'utf8');
}

/** `canonicalBytes` before UTF-8 encoding (which turns a lone surrogate into U+FFFD). */
export function canonicalText(value: unknown): string {
  try {
    return canonicalize(value);
  } catch (cause) {
    throw new FairpatchError(
      'METADATA_INVALID',
      'value cannot be encoded as canonical JSON (floats are not allowed)',
      { cause },
    );
  }
}

/**
 * Canonical JSON for the transparency logs' leaves: OLPC's form (sorted keys, integers only, no
 * whitespace), but with strings escaped as JSON.stringify escapes them. OLPC escapes only `"` and
 * `\\`, so a string holding a control character (a newline in an agent's error text, in a vendor's
 * version range) would become bytes no JSON parser reads back: one such leaf would make the whole
 * log unreadable to every auditor. For strings without control characters or lone surrogates both
 * forms are the same bytes, so leaves written before this stay valid.
 */
export function leafJsonBytes(value: unknown): Buffer {
  return Buffer.from(leafJson(value), 'utf8');
}

function leafJson(value: unknown): string {
  if (typeof value === 'string' || typeof value === 'boolean' || value === null)
    return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isInteger(value))
      throw new FairpatchError('METADATA_INVALID', 'floats have no canonical JSON form');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(leafJson).join(',')}]`;
  if (typeof value === 'object') {
    const object = value as Record<string, unknown>;
    return `{${Object.keys(object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${leafJson(object[k])}`)
      .join(',')}}`;
  }
  throw new FairpatchError('METADATA_INVALID', `${typeof value} has no canonical JSON form`);
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
