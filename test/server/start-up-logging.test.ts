import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateRoot } from '../../src/keys/keygen.js';
import { type Leaf, parseLeaf } from '../../src/log/leaves.js';
import type { FairpatchNode } from '../../src/server/node.js';
import { type Fixture, createFixture } from '../helpers/repo.js';

// A node is assembled in one place, and the repository it builds has its log from the start: what
// the node does while it opens (import a root `fairpatch root rotate` wrote beside the keys) is
// logged like anything else. With the log attached after opening, the import's `keys.rotated` leaf
// was skipped in silence, and an auditor pinned to the old root could not verify the new keys.

async function leavesOf(node: FairpatchNode): Promise<Leaf[]> {
  await node.sequencer.idle();
  const { size } = await node.log.head();
  return (await node.log.entries(0, size)).map((e) => parseLeaf(Buffer.from(e.data, 'utf8')));
}

describe('a node logs what it does while it opens', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await createFixture();
  });
  afterAll(() => fx.close());

  it('a root imported at start-up is announced in the log (keys.rotated), like one added over HTTP', async () => {
    const { version } = rotateRoot({ dir: fx.keysDir, now: fx.clock.now(), rotate: ['timestamp'] });
    const late = await fx.openNode();
    expect(late.repo.latestRoot().version).toBe(version);
    const rotated = (await leavesOf(late)).filter((l) => l.type === 'keys.rotated');
    expect(rotated.map((l) => l.type === 'keys.rotated' && l.root_version)).toEqual([version]);
  });
});
