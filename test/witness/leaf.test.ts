import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SignedObservation } from '../../src/common/observation.js';
import { canonicalText, leafJsonBytes } from '../../src/common/canonical.js';
import { witnessLeafBytes } from '../../src/witness/leaf.js';

// The witness builds each leaf around the canonical text its signature check already made: those
// bytes must be exactly the leaf's JSON (what auditors hash and parse), whatever the agent wrote.
const text = fc.string({ unit: 'binary', maxLength: 12 });
const hex = (n: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
const receipt = fc.record({
  observation: fc.record({
    v: fc.constant(1),
    agent: hex(64),
    group: text,
    via: text,
    polls: fc.integer({ min: 1, max: 1_000_000 }),
    lag_ms: fc.integer(),
    path_failures: fc.option(fc.array(fc.record({ via: text, error: text, at: text })), {
      nil: undefined,
    }),
  }),
  sig: hex(128),
});
const withoutUndefined = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

describe('witness leaf bytes', () => {
  it('are the leaf JSON of {type, v, received_at, receipt} for any observation text', () => {
    fc.assert(
      fc.property(receipt, text, (r, receivedAt) => {
        const signed = withoutUndefined(r) as unknown as SignedObservation;
        const observation = canonicalText(signed.observation);
        const expected = leafJsonBytes({
          type: 'witness.receipt',
          v: 1,
          received_at: receivedAt,
          receipt: signed,
        });
        expect(witnessLeafBytes(receivedAt, signed, observation).equals(expected)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('take the long way for a control character or a lone surrogate, and the short one otherwise', () => {
    const at = '2026-11-23T00:00:00.000Z';
    for (const via of ['a\nb', 'x\ud800', '\udc00y', '\u001f']) {
      const signed = { observation: { via }, sig: 'ab' } as unknown as SignedObservation;
      const observation = canonicalText(signed.observation);
      expect(observation).not.toBe(JSON.stringify({ via })); // OLPC leaves these raw
      expect(JSON.parse(witnessLeafBytes(at, signed, observation).toString()).receipt).toEqual(
        JSON.parse(JSON.stringify(signed)),
      );
    }
    const plain = { observation: { via: 'é😀"\\' }, sig: 'ab' } as unknown as SignedObservation;
    expect(witnessLeafBytes(at, plain, '{"via":"SHORT"}').toString()).toContain('SHORT');
  });
});
