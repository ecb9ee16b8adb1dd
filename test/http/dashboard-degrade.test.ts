import { afterEach, describe, expect, it } from 'vitest';
import { DashboardRebuild } from '../../src/http/dashboard-rebuild.js';
import { leafBytes } from '../../src/log/leaves.js';
import type { FairpatchNode } from '../../src/server/node.js';
import { type Fixture, MINUTE, createFixture, listen } from '../helpers/repo.js';

let fx: Fixture | undefined;
let server: { url: string; close(): Promise<void> } | undefined;
afterEach(async () => {
  await server?.close();
  await fx?.close();
  server = fx = undefined;
});

/** Declarations of many groups: valid leaves of a known size, written as the operator would. */
async function growLog(node: FairpatchNode, leaves: number): Promise<void> {
  for (let i = 0; i < leaves; i++)
    await node.appDeps.declareGroups!(Array.from({ length: 200 }, (_, j) => `group-${i}-${j}`));
}

/** A node whose dashboard keeps at most 64 KiB of leaves, and a rebuild of its own to drive by hand. */
async function boundedRebuild(): Promise<{ node: FairpatchNode; rebuild: DashboardRebuild }> {
  fx = await createFixture();
  const node = await fx.openNode({ dashboardMaxLogBytes: 64 * 1024 });
  return {
    node,
    rebuild: new DashboardRebuild({ repo: node.repo, log: node.log, maxLogBytes: 64 * 1024 }),
  };
}

describe('the dashboard degrades instead of dying', () => {
  it('a leaf it cannot read does not blind it: the page is served, naming the leaf, never a 500', async () => {
    fx = await createFixture();
    // A leaf no reader knows, as a node of another version (or a bug) might have written it.
    await fx.node.sequencer.append({
      dedupe: 'unknown-leaf',
      data: Buffer.from('{"type":"from.the.future","v":9}'),
    });
    server = await listen(fx.node.app);
    const html = await fetch(`${server.url}/`);
    expect(html.status).toBe(200);
    expect(await html.text()).toMatch(/1 leaf\/leaves could not be read/);
    const json = await fetch(`${server.url}/api/v1/report`);
    expect(json.status).toBe(200);
    expect(((await json.json()) as { dashboard: unknown }).dashboard).toMatchObject({
      stale: null,
      unreadable_leaves: 1,
    });
  });

  it('past its memory bound it shows the leaves below it once, saying it is stale and why, and reads no more', async () => {
    const { node, rebuild } = await boundedRebuild();
    await rebuild.kick();
    expect(rebuild.page).toBeDefined();
    expect(rebuild.stale).toBeUndefined();

    await growLog(node, 40); // about 200 KiB of leaves
    const { size } = await node.log.head();
    fx!.clock.advance(MINUTE);
    await rebuild.kick();
    const partial = rebuild.page!;
    expect(rebuild.stale?.reason).toMatch(/dashboardMaxLogBytes/);
    expect(partial.logSize).toBeGreaterThan(1);
    expect(partial.logSize).toBeLessThan(size);
    expect(partial.html).toMatch(/STALE since/);
    // Later rebuilds keep that page and its reason.
    fx!.clock.advance(MINUTE);
    await rebuild.kick();
    expect(rebuild.page?.report).toBe(partial.report);
    expect(rebuild.stale?.reason).toMatch(/dashboardMaxLogBytes/);

    // Over HTTP, a node whose log was already past the bound: 200, the part it read, and why.
    server = await listen(node.app);
    const response = await fetch(`${server.url}/api/v1/report`);
    expect(response.status).toBe(200);
    const { dashboard } = (await response.json()) as {
      dashboard: { log_size: number; stale: { reason: string } };
    };
    expect(dashboard.log_size).toBeLessThan(size);
    expect(dashboard.stale.reason).toMatch(/dashboardMaxLogBytes/);
  });

  it("the nodes' roll-ups are summed, not kept: a busy log does not push the page past its bound", async () => {
    const { node, rebuild } = await boundedRebuild();
    // 2,000 roll-ups, about 400 KiB of leaves: six times the bound.
    await node.sequencer.appendAll(
      Array.from({ length: 2_000 }, (_, i) => ({
        dedupe: `busy:${i}`,
        data: leafBytes({
          type: 'delivery.rollup',
          v: 1,
          node: 'busy',
          from_tick: i + 1,
          to_tick: i + 2,
          groups: {
            'eu-west': {
              polls: 2,
              versions: { '1': { polls: 2, first_tick: i + 1, last_tick: i + 2 } },
            },
          },
        }),
      })),
    );
    const { size } = await node.log.head();
    await rebuild.kick();
    expect(rebuild.stale).toBeUndefined();
    expect(rebuild.page?.logSize).toBe(size);
    expect(rebuild.page?.report.groups['eu-west']?.polls).toBe(4_000);
  });
});
