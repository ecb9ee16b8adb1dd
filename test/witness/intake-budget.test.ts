import { afterEach, describe, expect, it } from 'vitest';
import { SimAgent } from '../helpers/receipts.js';
import { type Fixture, MINUTE, createFixture } from '../helpers/repo.js';
import { postReceipts, startWitness } from '../helpers/witness.js';

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup(extra: Parameters<typeof startWitness>[2]) {
  const fx = await createFixture();
  cleanup.push(() => fx.close());
  const w = await startWitness(fx.keysDir, fx.clock, extra);
  cleanup.push(() => w.close());
  return { fx, w };
}

/** A fresh key naming a fresh group, one receipt: the junk flood's unit. */
async function junk(fx: Fixture, i: number): Promise<SimAgent> {
  const agent = new SimAgent(`junk-${i}`, fx.clock);
  await agent.poll(fx.node.app);
  return agent;
}

describe("a witness's evidence is bounded per minute", () => {
  it('unvouched keys share one pool: past it 429 and nothing logged; the next minute it refills', async () => {
    const { fx, w } = await setup({ unvouchedReceiptsPerMinute: 4 });
    const statuses = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await postReceipts(w.url, (await junk(fx, i)).batch())).status);
    expect(statuses).toEqual([201, 201, 201, 201, 429, 429]);
    const { size } = await w.witness.log.head();
    expect(size).toBe(4);
    fx.clock.advance(MINUTE);
    expect((await postReceipts(w.url, (await junk(fx, 7)).batch())).status).toBe(201);
  });

  it('what all clients add to its log and documents is bounded in bytes per minute', async () => {
    const budget = 16 * 1024;
    const { fx, w } = await setup({ clientBytesPerMinute: budget, vouched: () => true });
    let refused = false;
    for (let i = 0; i < 200 && !refused; i++) {
      const { status } = await postReceipts(w.url, (await junk(fx, i)).batch());
      if (status === 429) refused = true;
      else expect(status).toBe(201);
    }
    expect(refused).toBe(true);
    const { size } = await w.witness.log.head();
    const leaves = await w.witness.log.entriesPage(0, size, 1e9);
    expect(leaves.reduce((n, e) => n + e.data.length, 0)).toBeLessThanOrEqual(budget);
  });
});
