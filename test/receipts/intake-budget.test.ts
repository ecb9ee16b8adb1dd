import { afterEach, describe, expect, it } from 'vitest';
import type { FairpatchNode } from '../../src/server/node.js';
import { SimAgent } from '../helpers/receipts.js';
import { type Fixture, MINUTE, createFixture, listen } from '../helpers/repo.js';

let fx: Fixture | undefined;
let server: { url: string; close(): Promise<void> } | undefined;
afterEach(async () => {
  await server?.close();
  await fx?.close();
  server = fx = undefined;
});

/** A node with its own intake limits, served over real HTTP. */
async function nodeWith(extra: Parameters<Fixture['openNode']>[0]): Promise<FairpatchNode> {
  fx = await createFixture();
  const node = await fx.openNode(extra);
  server = await listen(node.app);
  return node;
}

async function post(batch: unknown): Promise<{ status: number; code?: string; retry?: string }> {
  const response = await fetch(`${server!.url}/api/v1/receipts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(batch),
  });
  const body = (await response.json()) as { error?: { code: string } };
  return {
    status: response.status,
    ...(body.error ? { code: body.error.code } : {}),
    ...(response.headers.get('retry-after') ? { retry: response.headers.get('retry-after')! } : {}),
  };
}

/** One fresh key per receipt, each naming its own group: the junk flood of the report. */
async function junk(node: FairpatchNode, n: number, group = (i: number) => `junk-${i}`) {
  const agents: SimAgent[] = [];
  for (let i = 0; i < n; i++) {
    const agent = new SimAgent(group(i), fx!.clock);
    await agent.poll(node.app);
    agents.push(agent);
  }
  return agents;
}

describe('receipt intake budgets', () => {
  it('puts every unvouched key in one small pool per minute: past it 429 with Retry-After and nothing logged; vouched keys keep their own budget', async () => {
    const vouchedKeys = new Set<string>();
    const node = await nodeWith({
      unvouchedReceiptsPerMinute: 5,
      vouched: (agent) => vouchedKeys.has(agent),
    });
    const agents = await junk(node, 8);
    const outcomes = [];
    for (const a of agents) outcomes.push(await post(a.batch()));
    expect(outcomes.slice(0, 5).map((o) => o.status)).toEqual([201, 201, 201, 201, 201]);
    for (const o of outcomes.slice(5)) {
      expect(o).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
      expect(Number(o.retry)).toBeGreaterThan(0);
    }
    await node.sequencer.idle();
    const size = (await node.log.head()).size;
    expect(await post(agents[7]!.batch())).toMatchObject({ status: 429 });
    await node.sequencer.idle();
    expect((await node.log.head()).size).toBe(size);

    // A vouched key is not in the pool.
    const owned = (await junk(node, 1, () => 'eu-west'))[0]!;
    vouchedKeys.add(owned.publicKey);
    expect(await post(owned.batch())).toMatchObject({ status: 201 });

    // The next minute the pool is full again.
    fx!.clock.advance(MINUTE);
    const later = await junk(node, 1);
    expect(await post(later[0]!.batch())).toMatchObject({ status: 201 });
  });

  it('bounds what clients add to the log per minute in bytes, vouched or not', async () => {
    const budget = 16 * 1024;
    const node = await nodeWith({ clientBytesPerMinute: budget, vouched: () => true });
    await node.sequencer.idle();
    const before = await node.log.entriesPage(0, (await node.log.head()).size, 1e9);
    const bytesBefore = before.reduce((n, e) => n + e.data.length, 0);
    let refused = 0;
    for (let i = 0; i < 200 && refused === 0; i++) {
      const [agent] = await junk(node, 1);
      const outcome = await post(agent!.batch());
      if (outcome.status === 429) refused++;
      else expect(outcome.status).toBe(201);
    }
    expect(refused).toBe(1);
    await node.sequencer.idle();
    const after = await node.log.entriesPage(0, (await node.log.head()).size, 1e9);
    const added = after.reduce((n, e) => n + e.data.length, 0) - bytesBefore;
    expect(added).toBeLessThanOrEqual(budget);
  });

  it('takes a receipt sent twice in one batch as one: charged once, logged once (as a witness does)', async () => {
    const node = await nodeWith({ receiptsPerKeyPerMinute: 1, vouched: () => true });
    const [agent] = await junk(node, 1);
    const batch = agent!.batch();
    expect(batch.receipts).toHaveLength(1);
    const twice = { ...batch, receipts: [batch.receipts[0]!, batch.receipts[0]!] };
    expect(await post(twice)).toMatchObject({ status: 201 });
    await node.sequencer.idle();
    const { size } = await node.log.head();
    const [last] = await node.log.entries(size - 1, size);
    const leaf = JSON.parse(last!.data) as { type: string; receipts: Array<{ sig: string }> };
    expect(leaf.type).toBe('receipts.batch');
    expect(leaf.receipts.map((r) => r.sig)).toEqual([batch.receipts[0]!.sig]);
  });

  it('refuses receipts naming a group the operator has not declared (422 GROUP_UNDECLARED), once it has declared any', async () => {
    const node = await nodeWith({});
    const [before] = await junk(node, 1);
    expect(await post(before!.batch())).toMatchObject({ status: 201 });

    await node.appDeps.declareGroups!(['eu-west', 'us-east']);
    fx!.clock.advance(10_000);
    const [stranger] = await junk(node, 1);
    await node.sequencer.idle();
    const size = (await node.log.head()).size;
    expect(await post(stranger!.batch())).toMatchObject({ status: 422, code: 'GROUP_UNDECLARED' });
    await node.sequencer.idle();
    expect((await node.log.head()).size).toBe(size);
    const [member] = await junk(node, 1, () => 'eu-west');
    expect(await post(member!.batch())).toMatchObject({ status: 201 });
  });
});
