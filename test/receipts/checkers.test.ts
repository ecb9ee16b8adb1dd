import { createHash, randomBytes } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { ed25519PublicKey } from '../../src/common/ed25519.js';
import { signObservation } from '../../src/common/observation.js';
import { FairpatchError } from '../../src/errors.js';
import { prepareReceiptBatch } from '../../src/receipts/check.js';
import { ReceiptCheckers } from '../../src/receipts/checkers.js';
import { canonicalBytes } from '../../src/common/canonical.js';

// The receipt checks' CPU-bound half runs on a worker thread in a built node (dist/, which the
// tests' global setup builds): its verdicts must be the inline function's, hostile bodies must come
// back as the same coded refusals, and a worker that stops must not take requests down with it.
const WORKER = new URL('../../dist/receipts/check-worker.js', import.meta.url);

const document = { signed: { _type: 'timestamp', version: 7 }, signatures: [] };
const digest = createHash('sha256').update(canonicalBytes(document)).digest('hex');
const at = new Date(0).toISOString();
function batch(n: number): { documents: Record<string, unknown>; receipts: unknown[] } {
  const seed = randomBytes(32);
  const agent = ed25519PublicKey(seed).toString('hex');
  const receipts = Array.from({ length: n }, (_, i) =>
    signObservation(
      {
        v: 1,
        agent,
        group: 'eu-west',
        document: digest,
        first_at: at,
        last_at: at,
        polls: 1 + i,
        via: `/g/eu-west\u0007${i}`, // a control character: the canonical text keeps it raw
        lag_ms: i,
      },
      seed,
    ),
  );
  return { documents: { [digest]: document, ['0'.repeat(64)]: { other: true } }, receipts };
}

const open: ReceiptCheckers[] = [];
const checkers = () => {
  const c = new ReceiptCheckers(WORKER);
  open.push(c);
  return c;
};
afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
});

describe('receipt checks on a worker thread', () => {
  it('give the inline verdicts: documents, canonical texts, each signature', async () => {
    const body = batch(120);
    const r = body.receipts as Array<{ observation: { polls: number } }>;
    r[77] = { ...r[77]!, observation: { ...r[77]!.observation, polls: 9999 } }; // re-labelled
    const text = JSON.stringify(body);
    expect(text.length).toBeGreaterThan(16 * 1024); // large enough to go to the worker
    const inline = await prepareReceiptBatch(text);
    const onWorker = await checkers().prepare(text);
    expect(onWorker).toEqual(inline);
    expect(onWorker.prepared.valid.filter((ok) => !ok)).toHaveLength(1);
    expect(onWorker.prepared.valid[77]).toBe(false);
    expect(onWorker.prepared.documents.map((d) => d.hashes)).toEqual([true, false]);
  });

  it('answer hostile bodies with the same coded refusals, and keep going', async () => {
    const c = checkers();
    const refusal = async (text: string) => {
      const error: unknown = await c.prepare(text).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(FairpatchError);
      const { code, message, details } = error as FairpatchError;
      return { code, message, details };
    };
    const good = JSON.stringify(batch(60));
    expect(await refusal(`${good.slice(0, -1)},`)).toMatchObject({ code: 'JSON_INVALID' });
    const extra = await refusal(JSON.stringify({ ...batch(60), extra: 1 }));
    expect(extra.code).toBe('RECEIPT_INVALID');
    expect(extra.details).toMatchObject({ issues: [{ path: [] }] });
    const tooMany = await refusal(JSON.stringify({ documents: {}, receipts: Array(1001).fill(0) }));
    expect(tooMany).toMatchObject({ code: 'RECEIPT_INVALID', message: /receipts/ });
    expect((await c.prepare(good)).prepared.valid.every(Boolean)).toBe(true);
  });

  it('fails the checks under way when the worker stops, and starts a new one for the next', async () => {
    const c = checkers();
    const text = JSON.stringify(batch(200));
    await c.prepare(text); // the worker is up
    const under = c.prepare(text);
    await (c as unknown as { worker: Worker }).worker.terminate();
    await expect(under).rejects.toMatchObject({ code: 'INTERNAL' });
    expect((await c.prepare(text)).prepared.valid.every(Boolean)).toBe(true);
  });
});
