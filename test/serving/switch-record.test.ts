import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tickStart } from '../../src/common/tick.js';
import { type Fixture, MINUTE, createFixture } from '../helpers/repo.js';

describe("a node's own switch bracket (/healthz)", () => {
  let fx: Fixture;
  let activationTick: number;

  beforeAll(async () => {
    fx = await createFixture();
    await fx.addVendor('acme');
    const artifact = await fx.artifact('agent.sh', 'echo fixed\n');
    const staged = await fx.node.repo.stageVendorMetadata(
      'acme',
      await fx.release('acme', {}, [artifact], fx.clock.now() + MINUTE),
    );
    activationTick = staged.activationTick;
  });
  afterAll(() => fx.close());

  const health = async () =>
    (await (await fx.node.app.request('/healthz')).json()) as {
      switch: {
        tick: number;
        lastPreviousServedMs: number;
        firstServedAfterTickMs: number;
        prerendered: boolean;
        firstServedWallMs: number;
        lastPreviousServedWallMs: number;
      } | null;
      recent_switches?: Array<{ tick: number }>;
    };

  it('records the last poll of the previous document and the first of the activation tick, and whether it was pre-rendered', async () => {
    const start = tickStart(fx.node.repo.config, activationTick);
    fx.clock.set(start - 3);
    await fx.node.app.request('/g/eu/metadata/timestamp.json');
    expect((await health()).switch).toBeNull();
    fx.node.repo.view.timestampAt(activationTick); // what the pre-render loop does half a tick ahead
    fx.clock.set(start + 2);
    await fx.node.app.request('/g/eu/metadata/timestamp.json');
    expect((await health()).switch).toEqual({
      tick: activationTick,
      lastPreviousServedMs: -3,
      firstServedAfterTickMs: 2,
      prerendered: true,
      // By the machine's own clock, which this test does not control.
      firstServedWallMs: expect.any(Number),
      lastPreviousServedWallMs: expect.any(Number),
    });
    const { firstServedWallMs, lastPreviousServedWallMs } = (await health()).switch!;
    expect(lastPreviousServedWallMs).toBeLessThan(firstServedWallMs);
  });

  it('keeps the record of each recent tick, given on /healthz?switches', async () => {
    const start = tickStart(fx.node.repo.config, activationTick);
    fx.clock.set(start + 1000 + 1);
    await fx.node.app.request('/g/eu/metadata/timestamp.json');
    expect((await health()).recent_switches).toBeUndefined();
    const recent = (
      (await (await fx.node.app.request('/healthz?switches')).json()) as {
        recent_switches: Array<{ tick: number; firstServedAfterTickMs: number }>;
      }
    ).recent_switches;
    expect(recent.map((r) => r.tick).slice(-2)).toEqual([activationTick, activationTick + 1]);
    expect(recent.at(-1)?.firstServedAfterTickMs).toBe(1);
  });

  it('a refresh that changes the state signs this tick and the next before the new view serves', async () => {
    const artifact = await fx.artifact('agent-2.sh', 'echo fixed again\n');
    await fx.node.repo.stageVendorMetadata(
      'acme',
      await fx.release('acme', {}, [artifact], fx.clock.now() + MINUTE),
    );
    const k = fx.node.repo.currentTick();
    expect(fx.node.repo.view.hasTimestamp(k)).toBe(true);
    expect(fx.node.repo.view.hasTimestamp(k + 1)).toBe(true);
  });

  it('a tick whose document the route signs on the poll is recorded as not pre-rendered', async () => {
    // The Hono route (a conditional request, HEAD, or a node without the socket reader) answers
    // from the same timestampDocument as the fast paths: what it records is what happened.
    const k = fx.node.repo.currentTick() + 50;
    fx.clock.set(tickStart(fx.node.repo.config, k) + 1);
    expect(fx.node.repo.view.hasTimestamp(k)).toBe(false);
    expect((await fx.node.app.request('/g/eu/metadata/timestamp.json')).status).toBe(200);
    const recent = (
      (await (await fx.node.app.request('/healthz?switches')).json()) as {
        recent_switches: Array<{ tick: number; prerendered: boolean }>;
      }
    ).recent_switches;
    expect(recent.at(-1)).toMatchObject({ tick: k, prerendered: false });
  });
});
