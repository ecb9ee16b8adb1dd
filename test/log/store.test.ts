import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/log/checkpoint.js';
import { leafHash, verifyConsistency, verifyInclusion } from '../../src/log/merkle.js';
import { parseVerifierKey } from '../../src/log/note.js';
import type { FairpatchNode } from '../../src/server/node.js';
import { type Fixture, createFixture } from '../helpers/repo.js';
import { DIALECTS, freshDatabase } from '../helpers/dialects.js';

const entry = (name: string) => ({ dedupe: name, data: Buffer.from(JSON.stringify({ name })) });

describe.each(DIALECTS)('%s: the log, appended from two nodes at once', (dialect) => {
  let fx: Fixture;
  let second: FairpatchNode;
  beforeEach(async () => {
    fx = await createFixture({ databaseUrl: await freshDatabase(dialect) });
    second = await fx.openNode();
  });
  afterEach(() => fx.close());

  it('gives every entry one index, misses none, logs a duplicate once, and never forks', async () => {
    const start = (await fx.node.log.head()).size;
    const a = fx.node.sequencer.appendAll(Array.from({ length: 150 }, (_, i) => entry(`a${i}`)));
    const b = second.sequencer.appendAll(Array.from({ length: 150 }, (_, i) => entry(`b${i}`)));
    const dup = Promise.all([
      fx.node.sequencer.append(entry('same')),
      second.sequencer.append(entry('same')),
    ]);
    const [ia, ib, [d1, d2]] = await Promise.all([a, b, dup]);
    expect(d1).toBe(d2);
    const all = [...ia, ...ib, d1].sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: 301 }, (_, i) => start + i));

    const { size, root } = await fx.node.log.head();
    expect(size).toBe(start + 301);
    const verifier = parseVerifierKey(fx.node.logVerifierKey);
    const latest = openCheckpoint((await fx.node.log.checkpoint())!, verifier);
    expect(latest.size).toBe(size);
    expect(latest.rootHash.equals(root)).toBe(true);

    // Every checkpoint either node signed is consistent with the latest, and every leaf is included.
    const checkpoints = await fx.node.db
      .selectFrom('log_checkpoints')
      .select(['size', 'note'])
      .orderBy('size')
      .execute();
    expect(checkpoints.length).toBeGreaterThan(1);
    for (const c of checkpoints) {
      const cp = openCheckpoint(c.note, verifier);
      verifyConsistency(
        cp.size,
        size,
        cp.rootHash,
        root,
        await second.log.consistencyProof(cp.size, size),
      );
    }
    const some = [0, size - 1, start, start + 150, 17, start + 3, size - 1];
    const batch = await second.log.inclusionProofs(some, size);
    expect(batch.length).toBe(some.length);
    for (const [i, index] of some.entries())
      expect(batch[i]!.map((h) => Buffer.from(h).toString('hex'))).toEqual(
        (await fx.node.log.inclusionProof(index, size)).map((h) => Buffer.from(h).toString('hex')),
      );
    const entries = await fx.node.log.entries(0, size);
    for (const e of entries.filter((_, i) => i % 17 === 0)) {
      verifyInclusion(
        e.index,
        size,
        leafHash(Buffer.from(e.data)),
        await fx.node.log.inclusionProof(e.index, size),
        root,
      );
    }
  });

  it('places a batch that mixes logged and new entries: the logged keep their index, only the new are appended', async () => {
    const [old] = await fx.node.sequencer.placeAll([entry('old')]);
    const placed = await second.sequencer.placeAll([
      entry('n1'),
      entry('old'),
      entry('n2'),
      entry('n1'),
    ]);
    expect(placed.map((p) => p.appended)).toEqual([true, false, true, false]);
    expect(placed[1]!.index).toBe(old!.index);
    expect(placed[3]!.index).toBe(placed[0]!.index);
    expect((await fx.node.log.head()).size).toBe(old!.index + 3);
    const logged = await fx.node.log.entries(old!.index, old!.index + 3);
    expect(logged.map((e) => JSON.parse(e.data).name)).toEqual(['old', 'n1', 'n2']);
  });
});
