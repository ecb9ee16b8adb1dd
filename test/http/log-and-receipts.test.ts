import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/log/checkpoint.js';
import { leafHash, verifyConsistency, verifyInclusion } from '../../src/log/merkle.js';
import { parseVerifierKey } from '../../src/log/note.js';
import { generateKeyPair } from '../../src/tuf/keys.js';
import { signEnvelope } from '../../src/tuf/metadata.js';
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
    return { status: response.status, body: (await response.json()) as Record<string, unknown> & { error?: { code: string } } };
  };

  const submit = (body: unknown) =>
    fx.node.app.request('/api/v1/receipts', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  const timestamp = async () => (await (await fx.node.app.request('/metadata/timestamp.json')).json()) as Record<string, unknown>;

  describe('receipts', () => {
    it('verifies, deduplicates by document and logs each batch', async () => {
      const doc = await timestamp();
      const at = new Date(fx.clock.now()).toISOString();
      const first = await submit({ group: 'eu-west', client: 'c1', receipts: [{ document: doc, received_at: at }] });
      expect(first.status).toBe(201);
      expect(await first.json()).toMatchObject({ accepted: 1, newDocuments: 1 });
      const second = await submit({ group: 'us-east', client: 'c2', receipts: [{ document: doc, received_at: at }] });
      expect(await second.json()).toMatchObject({ accepted: 1, newDocuments: 0 });
    });

    for (const [name, body] of [
      ['a document signed by an unknown key', async () => ({ group: 'eu', client: 'c', receipts: [{ document: signEnvelope((await timestamp()).signed, [generateKeyPair()]), received_at: new Date().toISOString() }] })],
      ['a document that is not a timestamp', async () => ({ group: 'eu', client: 'c', receipts: [{ document: { hello: 'world' }, received_at: new Date().toISOString() }] })],
      ['a forged group name', async () => ({ group: '../admin', client: 'c', receipts: [{ document: await timestamp(), received_at: new Date().toISOString() }] })],
      ['a bad receive time', async () => ({ group: 'eu', client: 'c', receipts: [{ document: await timestamp(), received_at: 'yesterday' }] })],
      ['an empty batch', async () => ({ group: 'eu', client: 'c', receipts: [] })],
    ] as const) {
      it(`refuses ${name} with 400 RECEIPT_INVALID, logging nothing`, async () => {
        const before = (await fx.node.log.head()).size;
        const response = await submit(await body());
        expect(response.status).toBe(400);
        expect(((await response.json()) as { error: { code: string } }).error.code).toBe('RECEIPT_INVALID');
        expect((await fx.node.log.head()).size).toBe(before);
      });
    }
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
      verifyInclusion(last.index, cp.size, leafHash(Buffer.from(last.data)), (inclusion.body.proof as string[]).map((h) => Buffer.from(h, 'hex')), cp.rootHash);
      const first = await fx.node.log.rootAt(1);
      const consistency = await json(`/log/proof/consistency?first=1&second=${cp.size}`);
      verifyConsistency(1, cp.size, first, cp.rootHash, (consistency.body.proof as string[]).map((h) => Buffer.from(h, 'hex')));
    });

    for (const path of ['/log/entries?start=5&end=2', '/log/entries?start=0&end=5000', '/log/entries?start=-1&end=2', '/log/entries?start=0&end=999999', '/log/proof/inclusion?index=9&size=3', '/log/proof/inclusion?index=0&size=99999', '/log/proof/consistency?first=3&second=1', '/log/proof/inclusion?index=1e3&size=2']) {
      it(`${path}: 400 QUERY_INVALID`, async () => {
        const { status, body } = await json(path);
        expect(status).toBe(400);
        expect(body.error?.code).toBe('QUERY_INVALID');
      });
    }
  });
});
