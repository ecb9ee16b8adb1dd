import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { ReceiptStore } from '../../src/agent/receipt-store.js';
import { FairpatchError } from '../../src/errors.js';
import { deliverToWitness } from '../../src/agent/witness-delivery.js';
import { verifierKey } from '../../src/log/note.js';
import { generateKeyPair } from '../../src/tuf/keys.js';
import { SimAgent } from '../helpers/receipts.js';
import { createFixture, listen } from '../helpers/repo.js';
import { type WitnessFixture, startWitness } from '../helpers/witness.js';

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const immediately = async () => {};

async function setup(): Promise<{ store: ReceiptStore; w: WitnessFixture; vkey: string }> {
  const fx = await createFixture();
  cleanup.push(() => fx.close());
  const w = await startWitness(fx.keysDir, fx.clock);
  cleanup.push(() => w.close());
  const agent = new SimAgent('eu-west', fx.clock);
  for (let i = 0; i < 3; i++) {
    await agent.poll(fx.node.app);
    fx.clock.advance(1000);
  }
  const dir = mkdtempSync(join(tmpdir(), 'fp-agent-witness-'));
  cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
  const store = new ReceiptStore(dir);
  for (const signed of agent.receipts)
    store.add({ signed, document: agent.documents[signed.observation.document]! });
  return { store, w, vkey: readFileSync(w.vkeyPath, 'utf8').trim() };
}

/** A proxy in front of the witness: `rewrite` may change the witness's answer, or answer itself. */
async function proxy(
  target: string,
  rewrite: (response: Response, n: number) => Promise<Response>,
): Promise<string> {
  const app = new Hono();
  let n = 0;
  app.all('*', async (c) =>
    rewrite(
      await fetch(new URL(new URL(c.req.url).pathname + new URL(c.req.url).search, target), {
        method: c.req.method,
        headers: c.req.raw.headers,
        ...(c.req.method === 'POST' ? { body: await c.req.text() } : {}),
      }),
      ++n,
    ),
  );
  const http = await listen(app);
  cleanup.push(() => http.close());
  return http.url;
}

describe('agents deliver receipts to witnesses, proven logged', () => {
  it('marks receipts delivered to a witness only for that witness, once its signed checkpoint includes them', async () => {
    const { store, w, vkey } = await setup();
    expect(await deliverToWitness({ url: w.url, vkey }, store)).toBe(3);
    expect(store.unsubmitted(w.url)).toEqual([]);
    expect(store.unsubmitted()).toHaveLength(3); // the server's delivery is tracked on its own
    expect(store.unsubmitted('http://127.0.0.1:1')).toHaveLength(3);
    expect(await deliverToWitness({ url: w.url, vkey }, store)).toBe(0);
    expect((await w.witness.log.head()).size).toBe(3);
  });

  it('a checkpoint signed by another key, or an answer without proofs, leaves receipts pending', async () => {
    const { store, w } = await setup();
    const impostor = verifierKey('witness/w1', generateKeyPair().publicKey);
    await expect(
      deliverToWitness({ url: w.url, vkey: impostor }, store, { wait: immediately }),
    ).rejects.toThrow(FairpatchError);
    expect(store.unsubmitted(w.url)).toHaveLength(3);

    // A 201 that says nothing (a witness, or something in between, dropping receipts).
    const vkey = readFileSync(w.vkeyPath, 'utf8').trim();
    const dropping = await proxy(w.url, async (r) => {
      const body = (await r.json()) as Record<string, unknown>;
      return Response.json({ ...body, entries: [] }, { status: 201 });
    });
    await expect(
      deliverToWitness({ url: dropping, vkey }, store, { wait: immediately }),
    ).rejects.toThrow(/no log entry/);
    expect(store.unsubmitted(dropping)).toHaveLength(3);

    // A proof that does not lead to the checkpoint root.
    const tampering = await proxy(w.url, async (r) => {
      const body = (await r.json()) as { entries: Array<{ proof: string[] }> };
      for (const e of body.entries) e.proof = e.proof.map(() => '00'.repeat(32));
      return Response.json(body, { status: 201 });
    });
    await expect(
      deliverToWitness({ url: tampering, vkey }, store, { wait: immediately }),
    ).rejects.toThrow(FairpatchError);
    expect(store.unsubmitted(tampering)).toHaveLength(3);
  });

  it('retries a witness that fails, then marks the receipts delivered', async () => {
    const { store, w, vkey } = await setup();
    const flaky = await proxy(w.url, async (r, n) =>
      n === 1
        ? Response.json(
            { error: { code: 'DATABASE_UNAVAILABLE', message: 'away' } },
            { status: 503 },
          )
        : r,
    );
    expect(await deliverToWitness({ url: flaky, vkey }, store, { wait: immediately })).toBe(3);
    expect(store.unsubmitted(flaky)).toEqual([]);
  });
});
