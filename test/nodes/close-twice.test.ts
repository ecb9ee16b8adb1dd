import { describe, expect, it } from 'vitest';
import { createFixture } from '../helpers/repo.js';
import { startWitness } from '../helpers/witness.js';

// A node or witness closed twice (a test, then its fixture; a signal handler, then a shutdown hook)
// once asked the witnesses again through a database pool already destroyed, and the second close
// rejected with "driver has already been destroyed".
describe('closing twice', () => {
  it('a node with witnesses: the second close is the first one', async () => {
    const fx = await createFixture();
    const w = await startWitness(fx.keysDir, fx.clock);
    try {
      const node = await fx.openNode({ witnesses: [w.url] });
      await node.close();
      await expect(node.close()).resolves.toBeUndefined();
    } finally {
      await w.close();
      await fx.close();
    }
  });

  it('a witness: the second close is the first one', async () => {
    const fx = await createFixture();
    const w = await startWitness(fx.keysDir, fx.clock);
    try {
      await w.witness.close();
      await expect(w.witness.close()).resolves.toBeUndefined();
    } finally {
      await w.close();
      await fx.close();
    }
  });
});
