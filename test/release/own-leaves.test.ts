import { afterEach, describe, expect, it } from 'vitest';
import { parseLeaf } from '../../src/log/leaves.js';
import { parseNodeConfig } from '../../src/server/config.js';
import { type Fixture, createFixture } from '../helpers/repo.js';

let fx: Fixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

describe('no leaf the node writes itself can blind an auditor', () => {
  it('a leaf its own schema would refuse is not logged (the log stays readable to the last leaf)', async () => {
    fx = await createFixture();
    const { evidence, log, sequencer } = fx.node;
    await sequencer.idle();
    const before = (await log.head()).size;
    // A group name no auditor reads (upper case, a space): a bug upstream must not reach the log.
    await expect(evidence.groupsDeclared(['Not A Group'])).rejects.toThrow(/no auditor could read/);
    await sequencer.idle();
    const { size } = await log.head();
    expect(size).toBe(before);
    for (const e of await log.entriesPage(0, size, 1e9))
      expect(() => parseLeaf(Buffer.from(e.data, 'utf8'))).not.toThrow();
  });

  it('a node name longer than the roll-up leaf takes is refused at start', () => {
    expect(() => parseNodeConfig({ nodeName: 'n'.repeat(129) })).toThrow(/128/);
    expect(parseNodeConfig({ nodeName: 'n'.repeat(128) }).nodeName).toHaveLength(128);
  });
});
