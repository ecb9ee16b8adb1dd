import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/log/checkpoint.js';
import { leafHash, verifyConsistency, verifyInclusion } from '../../src/log/merkle.js';
import { parseVerifierKey } from '../../src/log/note.js';
import { generateKeyPair } from '../../src/tuf/keys.js';
import { signEnvelope } from '../../src/tuf/metadata.js';
import { signObservation } from '../../src/common/observation.js';
import { SimAgent } from '../helpers/receipts.js';
import { type Fixture, SECOND, createFixture } from '../helpers/repo.js';
import { DIALECTS, freshDatabase } from '../helpers/dialects.js';

describe.each(DIALECTS)('%s', (dialect) => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await createFixture({ databaseUrl: await freshDatabase(dialect) });
    await fx.addVendor('acme');
  });
  afterAll(() => fx.close());

  const json = async (path: string) => {
    const response = await fx.node.app.request(path);
    return {
      status: response.status,
      body: (await response.json()) as Record<string, unknown> & { error?: { code: string } },
    };
  };

  const submit = (body: unknown) =>
    fx.node.app.request('/api/v1/receipts', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  const timestamp = async () =>
    (await (await fx.node.app.request('/metadata/timestamp.json')).json()) as Record<
      string,
      unknown
    >;

  describe('receipts', () => {
    const signed = async (group = 'eu-west', agent = new SimAgent(group, fx.clock)) => {
      await agent.poll(fx.node.app);
      return { agent, batch: agent.batch() };
    };
    const refusal = async (response: Response) => ({
      status: response.status,
      code: ((await response.json()) as { error: { code: string } }).error.code,
    });

    it('verifies agent signatures and documents, logs each batch once, acknowledges a retry without logging it again', async () => {
      const { batch } = await signed();
      const first = await submit(batch);
      expect(first.status).toBe(201);
      expect(await first.json()).toMatchObject({ accepted: 1, newDocuments: 1 });
      const size = (await fx.node.log.head()).size;
      const again = await submit(batch);
      expect(again.status).toBe(201);
      await fx.node.sequencer.idle();
      expect((await fx.node.log.head()).size).toBe(size);
      const other = await signed('us-east');
      expect(await (await submit(other.batch)).json()).toMatchObject({
        accepted: 1,
        newDocuments: 0,
      });
    });

    it('refuses a receipt re-labelled to another group: the agent signed the group (422 SIGNATURE_INVALID)', async () => {
      const { batch } = await signed('eu-west');
      const relabelled = {
        ...batch,
        receipts: batch.receipts.map((r) => ({
          ...r,
          observation: { ...r.observation, group: 'us-east' },
        })),
      };
      expect(await refusal(await submit(relabelled))).toEqual({
        status: 422,
        code: 'SIGNATURE_INVALID',
      });
    });

    for (const [name, make, status, code] of [
      [
        'an unsigned receipt',
        async () => ({
          ...(await signed()).batch,
          receipts: [{ document: await timestamp(), received_at: new Date().toISOString() }],
        }),
        400,
        'RECEIPT_INVALID',
      ],
      [
        'a document signed by an unknown key',
        async () => {
          const { batch } = await signed();
          const digest = Object.keys(batch.documents)[0]!;
          return {
            ...batch,
            documents: {
              [digest]: signEnvelope((await timestamp()).signed as never, [generateKeyPair()]),
            },
          };
        },
        400,
        'RECEIPT_INVALID',
      ],
      [
        'a document that is not a timestamp',
        async () => {
          const { batch } = await signed();
          return {
            ...batch,
            documents: { [Object.keys(batch.documents)[0]!]: { hello: 'world' } },
          };
        },
        400,
        'RECEIPT_INVALID',
      ],
      [
        'an impossible date (2026-99-99T99:99:99Z)',
        async () => {
          const { batch, agent } = await signed();
          const o = { ...batch.receipts[0]!.observation, first_at: '2026-99-99T99:99:99Z' };
          return { ...batch, receipts: [signObservation(o, agent.seed)] };
        },
        400,
        'RECEIPT_INVALID',
      ],
      [
        'a forged group name',
        async () => {
          const { batch, agent } = await signed();
          return {
            ...batch,
            receipts: [
              signObservation({ ...batch.receipts[0]!.observation, group: '../admin' }, agent.seed),
            ],
          };
        },
        400,
        'RECEIPT_INVALID',
      ],
      ['an empty batch', async () => ({ documents: {}, receipts: [] }), 400, 'RECEIPT_INVALID'],
    ] as const) {
      it(`refuses ${name} with ${status} ${code}, logging nothing`, async () => {
        const before = (await fx.node.log.head()).size;
        expect(await refusal(await submit(await make()))).toEqual({ status, code });
        expect((await fx.node.log.head()).size).toBe(before);
      });
    }

    it('bounds what one agent key may add per minute (429 with Retry-After)', async () => {
      const agent = new SimAgent('eu-west', fx.clock);
      for (let i = 0; i < 601; i++) {
        fx.clock.advance(1);
        await agent.poll(fx.node.app);
      }
      const response = await submit(agent.batch());
      expect(response.status).toBe(429);
      expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
    });
  });

  describe('log endpoints', () => {
    it('serve a checkpoint, entries and proofs that verify against it', async () => {
      fx.clock.advance(SECOND);
      await fx.node.sequencer.idle();
      const note = await (await fx.node.app.request('/log/checkpoint')).text();
      const cp = openCheckpoint(note, parseVerifierKey(fx.node.logVerifierKey));
      const { body } = await json(`/log/entries?start=0&end=${cp.size}`);
      const entries = body.entries as Array<{ index: number; data: string }>;
      expect(entries.length).toBe(cp.size);
      const last = entries.at(-1)!;
      const inclusion = await json(`/log/proof/inclusion?index=${last.index}&size=${cp.size}`);
      verifyInclusion(
        last.index,
        cp.size,
        leafHash(Buffer.from(last.data)),
        (inclusion.body.proof as string[]).map((h) => Buffer.from(h, 'hex')),
        cp.rootHash,
      );
      const first = await fx.node.log.rootAt(1);
      const consistency = await json(`/log/proof/consistency?first=1&second=${cp.size}`);
      verifyConsistency(
        1,
        cp.size,
        first,
        cp.rootHash,
        (consistency.body.proof as string[]).map((h) => Buffer.from(h, 'hex')),
      );
    });

    for (const path of [
      '/log/entries?start=5&end=2',
      '/log/entries?start=0&end=5000',
      '/log/entries?start=-1&end=2',
      '/log/entries?start=0&end=999999',
      '/log/proof/inclusion?index=9&size=3',
      '/log/proof/inclusion?index=0&size=99999',
      '/log/proof/consistency?first=3&second=1',
      '/log/proof/inclusion?index=1e3&size=2',
    ]) {
      it(`${path}: 400 QUERY_INVALID`, async () => {
        const { status, body } = await json(path);
        expect(status).toBe(400);
        expect(body.error?.code).toBe('QUERY_INVALID');
      });
    }
  });
});
