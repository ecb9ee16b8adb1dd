import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateLogKey } from '../../src/keys/keygen.js';
import { signCheckpoint } from '../../src/log/checkpoint.js';
import { leafBytes } from '../../src/log/leaves.js';
import {
  type KeyRotations,
  LogKeyRing,
  followLogKeys,
  keyRotationsSchema,
} from '../../src/log/log-keys.js';
import { leafHash } from '../../src/log/merkle.js';
import { verifierKey } from '../../src/log/note.js';
import { generateKeyPair } from '../../src/tuf/keys.js';
import { DIALECTS, freshDatabase } from '../helpers/dialects.js';
import { type Fixture, createFixture } from '../helpers/repo.js';

// What a log serves at /log/key-rotations, and the one rule every client follows it by: a key is
// learnt only from an announcement included in a checkpoint that a key already trusted signed.
describe.each(DIALECTS)('following a log key rotation (%s)', (dialect) => {
  let fx: Fixture;
  let pinned: string;
  let next: string;
  let served: KeyRotations;
  beforeAll(async () => {
    const databaseUrl = await freshDatabase(dialect);
    fx = await createFixture(databaseUrl ? { databaseUrl } : {});
    pinned = readFileSync(join(fx.keysDir, 'log.vkey'), 'utf8').trim();
    next = rotateLogKey(fx.keysDir, 'begin').vkey;
    const during = await fx.openNode();
    await during.sequencer.idle();
    const response = await during.app.request('/log/key-rotations');
    expect(response.status).toBe(200);
    served = keyRotationsSchema.parse(await response.json());
  });
  afterAll(() => fx.close());

  it('serves the announcement under a checkpoint the pinned key signed; the pinned key learns the next', () => {
    expect(served.rotations).toHaveLength(1);
    expect(followLogKeys([pinned], served)).toEqual([next]);
    // Already trusted: nothing new.
    expect(followLogKeys([pinned, next], served)).toEqual([]);
  });

  it('learns nothing from a stranger key, a tampered leaf, a wrong proof or a checkpoint the attacker signed', () => {
    const stranger = verifierKey('fairpatch.dev/log', generateKeyPair().publicKey);
    expect(followLogKeys([stranger], served)).toEqual([]);
    const rotation = served.rotations[0]!;
    // One character of the announced key changed (a base64 key may hold or end in '+', so no pattern on it).
    const tampered = rotation.leaf.replace(/"vkey":"([^"]+)"/, (_, key: string) => {
      const i = key.length - 2;
      return `"vkey":"${key.slice(0, i)}${key[i] === 'A' ? 'B' : 'A'}${key.slice(i + 1)}"`;
    });
    expect(tampered).not.toBe(rotation.leaf);
    expect(followLogKeys([pinned], { rotations: [{ ...rotation, leaf: tampered }] })).toEqual([]);
    const wrongProof = rotation.proof.map(() => '00'.repeat(32));
    expect(
      followLogKeys([pinned], {
        rotations: [{ ...rotation, proof: wrongProof.length ? wrongProof : ['00'.repeat(32)] }],
      }),
    ).toEqual([]);
    // An attacker's own one-leaf log announcing its key, signed by its key: not the pinned key's word.
    const attacker = generateKeyPair();
    const attackerKey = verifierKey('fairpatch.dev/log', attacker.publicKey);
    const leaf = leafBytes({ type: 'log.key-rotated', v: 1, vkey: attackerKey });
    const checkpoint = signCheckpoint(
      { origin: 'fairpatch.dev/log', size: 1, rootHash: leafHash(leaf) },
      'fairpatch.dev/log',
      attacker.secretKey,
    );
    expect(
      followLogKeys([pinned], {
        rotations: [{ index: 0, leaf: leaf.toString('utf8'), checkpoint, proof: [] }],
      }),
    ).toEqual([]);
  });

  it('follows a chain of rotations in one go: the second announcement is signed by the first new key', async () => {
    rotateLogKey(fx.keysDir, 'promote');
    const third = rotateLogKey(fx.keysDir, 'begin').vkey;
    const node = await fx.openNode();
    await node.sequencer.idle();
    const chain = keyRotationsSchema.parse(
      await (await node.app.request('/log/key-rotations')).json(),
    );
    expect(chain.rotations).toHaveLength(2);
    // Served in log order; given in reverse, the rule still follows the chain.
    expect(followLogKeys([pinned], { rotations: [...chain.rotations].reverse() })).toEqual([
      next,
      third,
    ]);
    // Without the first step, the second announcement vouches for nothing.
    expect(followLogKeys([pinned], { rotations: chain.rotations.slice(1) })).toEqual([]);
  });

  it('a key ring asks its source at most every interval, and survives a source that fails or lies', async () => {
    let now = 0;
    let asked = 0;
    const ring = new LogKeyRing(
      pinned,
      [],
      () => {
        asked++;
        return Promise.resolve(served);
      },
      () => now,
      10_000,
    );
    expect(await ring.refresh()).toEqual([next]);
    expect(ring.verifierKeys()).toEqual([pinned, next]);
    expect(await ring.refresh()).toEqual([]);
    expect(asked).toBe(1);
    now += 10_000;
    await ring.refresh();
    expect(asked).toBe(2);
    const failing = new LogKeyRing(
      pinned,
      [],
      () => Promise.reject(new Error('down')),
      () => 0,
    );
    expect(await failing.refresh()).toEqual([]);
    const junk = new LogKeyRing(
      pinned,
      [],
      () => Promise.resolve({ rotations: 'x' }),
      () => 0,
    );
    expect(await junk.refresh()).toEqual([]);
    expect(junk.verifierKeys()).toEqual([pinned]);
  });
});
