import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ENTRIES_PAGE_BYTES } from '../../src/log/limits.js';
import { type Fixture, createFixture, listen } from '../helpers/repo.js';
import { DIALECTS, freshDatabase } from '../helpers/dialects.js';

const MiB = 1024 * 1024;
/** A leaf of about 1.5 × `bytes` bytes, a third of them escaped quotes (doubled again when a page encodes it). */
const leaf = (name: string, bytes: number) => ({
  dedupe: name,
  data: Buffer.from(JSON.stringify({ name, pad: '"a'.repeat(bytes / 2) })),
});

describe.each(DIALECTS)('%s: /log/entries pages are bounded in bytes', (dialect) => {
  let fx: Fixture;
  let server: { url: string; close(): Promise<void> };
  beforeEach(async () => {
    fx = await createFixture({ databaseUrl: await freshDatabase(dialect) });
    server = await listen(fx.node.app);
  });
  afterEach(async () => {
    await server.close();
    await fx.close();
  });

  it('stops a page before it passes the bound, serves a leaf larger than it alone, and a reader paging on from what it got reads the whole log', async () => {
    const first = (await fx.node.log.head()).size;
    await fx.node.sequencer.appendAll(Array.from({ length: 8 }, (_, i) => leaf(`big${i}`, MiB)));
    await fx.node.sequencer.append(leaf('huge', 5 * MiB));
    await fx.node.sequencer.appendAll(Array.from({ length: 50 }, (_, i) => leaf(`small${i}`, 100)));
    const { size } = await fx.node.log.head();

    const got: Array<{ index: number; data: string }> = [];
    let pages = 0;
    while (got.length < size) {
      const response = await fetch(`${server.url}/log/entries?start=${got.length}&end=${size}`);
      expect(response.status).toBe(200);
      const text = await response.text();
      const { entries } = JSON.parse(text) as { entries: Array<{ index: number; data: string }> };
      expect(entries.length).toBeGreaterThan(0);
      // Over the bound only when one entry is larger than the whole page.
      if (entries.length > 1)
        expect(Buffer.byteLength(text)).toBeLessThanOrEqual(ENTRIES_PAGE_BYTES + 64);
      for (const e of entries) {
        expect(e.index).toBe(got.length);
        got.push(e);
      }
      pages++;
    }
    expect(pages).toBeGreaterThan(3);
    expect(got.length).toBe(size);
    expect(got.slice(first).map((e) => (JSON.parse(e.data) as { name: string }).name)).toEqual([
      ...Array.from({ length: 8 }, (_, i) => `big${i}`),
      'huge',
      ...Array.from({ length: 50 }, (_, i) => `small${i}`),
    ]);
  }, 60_000);
});
