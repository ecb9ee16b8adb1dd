import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ed25519PublicKey,
  ed25519Sign,
  ed25519Verify,
  ed25519VerifyBatch,
} from '../../src/common/ed25519.js';
import { signObservation, verifyObservations } from '../../src/common/observation.js';

describe('Ed25519 checked in a batch (on the thread pool)', () => {
  const seeds = Array.from({ length: 5 }, () => randomBytes(32));
  const good = Array.from({ length: 40 }, (_, i) => {
    const seed = seeds[i % seeds.length]!;
    const message = Buffer.from(`message ${i}`);
    return { publicKey: ed25519PublicKey(seed), message, signature: ed25519Sign(seed, message) };
  });

  it('gives each check the verdict ed25519Verify gives it, in order, small batches and large', async () => {
    const flipped = Buffer.from(good[3]!.signature);
    flipped[10]! ^= 1;
    const checks = [
      ...good,
      { ...good[3]!, signature: flipped }, // altered signature
      { ...good[4]!, message: Buffer.from('message 5') }, // another message
      { ...good[5]!, publicKey: good[6]!.publicKey.subarray(0, 31) }, // short key
      { ...good[5]!, signature: good[5]!.signature.subarray(0, 63) }, // short signature
      { ...good[5]!, publicKey: Buffer.alloc(32, 0xff) }, // not a curve point
      { ...good[7]!, publicKey: ed25519PublicKey(seeds[1]!) }, // someone else's key
    ];
    const expected = checks.map((c) => ed25519Verify(c.publicKey, c.message, c.signature));
    expect(expected).toEqual([...good.map(() => true), false, false, false, false, false, false]);
    expect(await ed25519VerifyBatch(checks)).toEqual(expected);
    expect(await ed25519VerifyBatch(checks.slice(38, 42))).toEqual(expected.slice(38, 42));
    expect(await ed25519VerifyBatch([])).toEqual([]);
  });

  it('verifyObservations refuses exactly the re-labelled observation', async () => {
    const seed = seeds[0]!;
    const agent = ed25519PublicKey(seed).toString('hex');
    const at = new Date(0).toISOString();
    const signed = Array.from({ length: 20 }, (_, i) =>
      signObservation(
        {
          v: 1,
          agent,
          group: 'eu-west',
          document: '0'.repeat(64),
          first_at: at,
          last_at: at,
          polls: 1 + i,
          via: '/g/eu-west',
          lag_ms: 0,
        },
        seed,
      ),
    );
    signed[13] = { ...signed[13]!, observation: { ...signed[13]!.observation, group: 'us-east' } };
    const verdicts = await verifyObservations(signed);
    expect(verdicts.map((ok, i) => (ok ? -1 : i)).filter((i) => i >= 0)).toEqual([13]);
  });
});
