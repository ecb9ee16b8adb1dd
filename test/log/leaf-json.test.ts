import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalBytes, leafJsonBytes } from '../../src/common/canonical.js';

// Leaves are hashed into the log as bytes and parsed back by every auditor: the encoding must
// always parse, and must not change the bytes of any leaf an older version wrote.
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string({ unit: 'binary' }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ unit: 'binary' }), tie('value'), { maxKeys: 4 }),
  ),
})).value;
/** Every string in a value, keys included. */
const strings = (v: unknown): string[] =>
  typeof v === 'string'
    ? [v]
    : Array.isArray(v)
      ? v.flatMap(strings)
      : v !== null && typeof v === 'object'
        ? Object.entries(v).flatMap(([k, x]) => [k, ...strings(x)])
        : [];
/** What JSON.stringify escapes and OLPC does not: control characters and lone surrogates. */
const hasControl = (v: unknown): boolean =>
  strings(v).some((s) => [...s].some((c) => c.charCodeAt(0) < 0x20) || /\p{Cs}/u.test(s));

describe('leaf JSON', () => {
  it('always parses back to the value it encodes', () => {
    fc.assert(
      fc.property(json, (v) => {
        expect(JSON.parse(leafJsonBytes(v).toString('utf8'))).toEqual(v);
      }),
    );
  });

  it('is byte-for-byte OLPC canonical JSON when no string holds a control character', () => {
    fc.assert(
      fc.property(
        json.filter((v) => !hasControl(v)),
        (v) => {
          expect(leafJsonBytes(v).equals(canonicalBytes(v))).toBe(true);
        },
      ),
    );
  });

  it('escapes what OLPC leaves raw, and refuses floats', () => {
    expect(canonicalBytes({ e: 'a\nb' }).toString()).toBe('{"e":"a\nb"}');
    expect(leafJsonBytes({ e: 'a\nb', b: 1 }).toString()).toBe('{"b":1,"e":"a\\nb"}');
    expect(() => leafJsonBytes({ x: 1.5 })).toThrow(/floats/);
  });
});
