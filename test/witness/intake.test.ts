import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  witnessAckSchema,
  witnessLeafSchema,
  witnessPageSchema,
} from '../../src/common/witness.js';
import { openCheckpoint } from '../../src/log/checkpoint.js';
import { leafHash, verifyInclusion } from '../../src/log/merkle.js';
import { parseVerifierKey } from '../../src/log/note.js';
import { MemoryTree } from '../../src/log/tree.js';
import { DIALECTS, type Dialect, freshDatabase } from '../helpers/dialects.js';
import { SimAgent } from '../helpers/receipts.js';
import { signObservation } from '../../src/common/observation.js';
import { type Fixture, createFixture } from '../helpers/repo.js';
import { postReceipts, startWitness } from '../helpers/witness.js';

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

let dialect: Dialect = 'sqlite';

async function setup(extra: Parameters<typeof startWitness>[2] = {}) {
  const fx = await createFixture();
  cleanup.push(() => fx.close());
  const databaseUrl = await freshDatabase(dialect);
  const w = await startWitness(fx.keysDir, fx.clock, {
    ...(databaseUrl ? { databaseUrl } : {}),
    ...extra,
  });
  cleanup.push(() => w.close());
  return { fx, w, verifier: parseVerifierKey(w.witness.verifierKey) };
}

async function agentWithReceipts(fx: Fixture, group: string, polls = 2): Promise<SimAgent> {
  const agent = new SimAgent(group, fx.clock);
  for (let i = 0; i < polls; i++) {
    await agent.poll(fx.node.app);
    fx.clock.advance(1000);
  }
  return agent;
}

describe.each(DIALECTS)('witness receipt intake (%s)', (d) => {
  beforeEach(() => {
    dialect = d;
  });

  it('logs each receipt once, answers its index, leaf and a checkpoint its inclusion proof verifies against', async () => {
    const { fx, w, verifier } = await setup();
    const agent = await agentWithReceipts(fx, 'eu-west');
    // Text the agent chose, control characters included, must not make its leaf unreadable.
    const { observation } = agent.receipts[0]!;
    agent.receipts[0] = signObservation(
      {
        ...observation,
        path_failures: [{ via: '/g/eu-west', error: 'a\nb\u0001', at: observation.first_at }],
      },
      agent.seed,
    );
    const { status, body } = await postReceipts(w.url, agent.batch());
    expect(status).toBe(201);
    const ack = witnessAckSchema.parse(body);
    expect(ack.replayed).toBe(0);
    const checkpoint = openCheckpoint(ack.checkpoint, verifier);
    expect(checkpoint.origin).toBe('witness/w1');
    for (const e of ack.entries) {
      const leaf = witnessLeafSchema.parse(JSON.parse(e.leaf));
      expect(leaf.receipt.sig).toBe(e.sig);
      expect(leaf.received_at).toBe(new Date(fx.clock.now()).toISOString());
      const proof = (await (
        await fetch(`${w.url}/log/proof/inclusion?index=${e.index}&size=${checkpoint.size}`)
      ).json()) as { proof: string[] };
      verifyInclusion(
        e.index,
        checkpoint.size,
        leafHash(Buffer.from(e.leaf)),
        proof.proof.map((p) => Buffer.from(p, 'hex')),
        checkpoint.rootHash,
      );
    }

    // A retry after a lost answer: acknowledged with the same indices, the log does not grow.
    const again = witnessAckSchema.parse((await postReceipts(w.url, agent.batch())).body);
    expect(again.replayed).toBe(2);
    expect(again.entries.map((e) => e.index)).toEqual(ack.entries.map((e) => e.index));
    expect((await w.witness.log.head()).size).toBe(2);
  });

  it('refuses a bad agent signature (422 SIGNATURE_INVALID) and logs nothing', async () => {
    const { fx, w } = await setup();
    const agent = await agentWithReceipts(fx, 'eu-west', 1);
    const batch = agent.batch();
    // Re-labelled into another group: the agent's signature no longer covers it.
    const forged = {
      ...batch,
      receipts: [
        {
          ...batch.receipts[0]!,
          observation: { ...batch.receipts[0]!.observation, group: 'us-east' },
        },
      ],
    };
    const { status, body } = await postReceipts(w.url, forged);
    expect(status).toBe(422);
    expect(body.error.code).toBe('SIGNATURE_INVALID');
    expect((await w.witness.log.head()).size).toBe(0);
  });

  it("refuses receipts about another repository's documents (400 RECEIPT_INVALID)", async () => {
    const { w } = await setup();
    const other = await createFixture();
    cleanup.push(() => other.close());
    const agent = await agentWithReceipts(other, 'eu-west', 1);
    const { status, body } = await postReceipts(w.url, agent.batch());
    expect(status).toBe(400);
    expect(body.error.code).toBe('RECEIPT_INVALID');
    expect(body.error.message).toMatch(/timestamp key/);
    expect((await w.witness.log.head()).size).toBe(0);
  });

  it('limits observations per agent key (429 with Retry-After)', async () => {
    const { fx, w } = await setup({ perKeyPerMinute: 2 });
    const agent = await agentWithReceipts(fx, 'eu-west', 3);
    const response = await fetch(`${w.url}/receipts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(agent.batch()),
    });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
      'RATE_LIMITED',
    );
  });

  it('limits requests per address (429)', async () => {
    const { fx, w } = await setup({ perAddress: { perSecond: 1, burst: 1 } });
    const agent = await agentWithReceipts(fx, 'eu-west', 1);
    expect((await postReceipts(w.url, agent.batch())).status).toBe(201);
    const second = await postReceipts(w.url, agent.batch());
    expect(second.status).toBe(429);
    expect(second.body.error.code).toBe('RATE_LIMITED');
  });

  it('serves receipts by group, paged, and its own log verifies from the first leaf', async () => {
    const { fx, w, verifier } = await setup();
    const groups = ['eu-west', 'us-east'];
    for (const g of groups)
      for (let i = 0; i < 3; i++)
        expect(
          (await postReceipts(w.url, (await agentWithReceipts(fx, g, 2)).batch())).status,
        ).toBe(201);

    const page = witnessPageSchema.parse(
      await (await fetch(`${w.url}/receipts?group=us-east`)).json(),
    );
    expect(page.entries).toHaveLength(6);
    for (const e of page.entries) {
      const leaf = witnessLeafSchema.parse(JSON.parse(e.leaf));
      expect(leaf.receipt.observation.group).toBe('us-east');
      expect(page.documents[leaf.receipt.observation.document]).toBeDefined();
    }
    const after = witnessPageSchema.parse(await (await fetch(`${w.url}/receipts?after=5`)).json());
    expect(after.entries.map((e) => e.index)).toEqual([6, 7, 8, 9, 10, 11]);
    expect(after.next).toBeUndefined();

    // Recompute the whole tree from leaf 0 and compare with the signed checkpoint.
    const checkpoint = openCheckpoint(
      await (await fetch(`${w.url}/log/checkpoint`)).text(),
      verifier,
    );
    const { entries } = (await (
      await fetch(`${w.url}/log/entries?start=0&end=${checkpoint.size}`)
    ).json()) as { entries: Array<{ index: number; data: string }> };
    expect(entries.map((e) => e.index)).toEqual([...Array(12).keys()]);
    const tree = new MemoryTree();
    tree.append(entries.map((e) => Buffer.from(e.data)));
    expect(Buffer.from(tree.root()).equals(checkpoint.rootHash)).toBe(true);
    for (const e of entries) witnessLeafSchema.parse(JSON.parse(e.data));
  });
});
