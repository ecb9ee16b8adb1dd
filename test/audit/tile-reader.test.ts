import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TileReader } from '../../src/audit/tile-reader.js';
import { type Fixture, createFixture, listen } from '../helpers/repo.js';

/**
 * The auditor's tile reader trusts a hash tile only once it is checked against the checkpoint root:
 * a server (or a cache) that changes one byte of one tile is caught, never believed.
 */
describe("the auditor's tile reader", () => {
  let fx: Fixture;
  let honest: { url: string; close(): Promise<void> };
  let hostile: { url: string; close(): Promise<void> };
  /** Which tile path the hostile server alters (one byte of its first hash). */
  let target = '';
  beforeAll(async () => {
    fx = await createFixture();
    const have = (await fx.node.log.head()).size;
    await fx.node.sequencer.appendAll(
      Array.from({ length: 256 * 5 + 10 - have }, (_, i) => ({
        dedupe: `reader-${i}`,
        data: Buffer.from(JSON.stringify({ type: 'reader', i })),
      })),
    );
    honest = await listen(fx.node.app);
    const app = new Hono();
    app.all('*', async (c) => {
      const response = await fx.node.app.fetch(c.req.raw);
      if (new URL(c.req.url).pathname !== `/log/${target}`) return response;
      const bytes = Buffer.from(await response.arrayBuffer());
      bytes[0]! ^= 1;
      return new Response(bytes, { status: response.status, headers: response.headers });
    });
    hostile = await listen(app);
  });
  afterAll(async () => {
    await honest?.close();
    await hostile?.close();
    await fx?.close();
  });

  const head = () => fx.node.log.head();

  it('proves inclusion from tiles as the node does, and reads roots at earlier sizes', async () => {
    const { size, root } = await head();
    const reader = new TileReader(honest.url, size, root);
    for (const index of [0, 300, size - 1])
      expect(await reader.inclusionProof(index, size)).toEqual(
        await fx.node.log.inclusionProof(index, size),
      );
    for (const at of [1, 256, 700, size - 1])
      expect(Buffer.from(await reader.rootAt(at))).toEqual(
        Buffer.from(await fx.node.log.rootAt(at)),
      );
  });

  it.each([
    ['a full level-0 tile', 'tile/0/002'],
    ['the partial level-0 tile', 'tile/0/005.p/10'],
    ['the partial level-1 tile', 'tile/1/000.p/5'],
  ])('refuses %s altered by one bit (PROOF_INVALID)', async (_, path) => {
    target = path;
    const { size, root } = await head();
    const reader = new TileReader(hostile.url, size, root);
    await expect(reader.rootAt(2 * 256 + 128)).rejects.toMatchObject({ code: 'PROOF_INVALID' });
  });
});
