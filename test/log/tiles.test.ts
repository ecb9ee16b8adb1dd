import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { leafHash } from '../../src/log/merkle.js';
import { MemoryTree } from '../../src/log/tree.js';
import {
  CompactRange,
  decodeBundle,
  formatTileIndex,
  parseTilePath,
  perfectRoot,
  splitHashes,
} from '../../src/log/tiles.js';
import { type Fixture, createFixture, listen } from '../helpers/repo.js';
import { DIALECTS, freshDatabase } from '../helpers/dialects.js';
import { systemClock } from '../../src/common/clock.js';
import { startWitness } from '../helpers/witness.js';

describe('tile paths (C2SP tlog-tiles)', () => {
  it('spells an index in groups of three, all but the last after an x, and reads it back', () => {
    expect(formatTileIndex(0)).toBe('000');
    expect(formatTileIndex(67)).toBe('067');
    expect(formatTileIndex(1000)).toBe('x001/000');
    expect(formatTileIndex(1234067)).toBe('x001/x234/067');
    for (const n of [0, 5, 999, 1000, 1234067, 2 ** 40])
      expect(parseTilePath(`0/${formatTileIndex(n)}`)).toEqual({
        kind: 'hashes',
        level: 0,
        index: n,
        width: 256,
      });
    expect(parseTilePath('0/x001/234.p/17')).toEqual({
      kind: 'hashes',
      level: 0,
      index: 1234,
      width: 17,
    });
    expect(parseTilePath('entries/067.p/255')).toMatchObject({ kind: 'entries', index: 67 });
    expect(parseTilePath('entries-u32/067')).toMatchObject({ kind: 'entries-u32', width: 256 });
  });

  it.each([
    ['a level with a leading zero', '01/000'],
    ['a level past 63', '64/000'],
    ['no index', '0'],
    ['a short group', '0/01'],
    ['a leading zero group', '0/x000/001'],
    ['an x on the last group', '0/x001'],
    ['width 0', '0/000.p/0'],
    ['width 256', '0/000.p/256'],
    ['a width with a leading zero', '0/000.p/01'],
    ['a .p without a width', '0/000.p'],
    ['too many elements', '0/x001/x001/x001/x001/x001/x001/x001/001'],
    ['an index past any tree', '5/x999/x999/x999/x999/x999/999'],
    ['another directory', 'foo/000'],
    ['a percent escape', '0/%30%30%30'],
  ])('refuses %s', (_, path) => {
    expect(() => parseTilePath(path)).toThrow(expect.objectContaining({ code: 'PATH_INVALID' }));
  });
});

describe('the compact range an auditor keeps', () => {
  it('gives the root of a tree at every size, and picks up from its saved edge', () => {
    const tree = new MemoryTree();
    const range = CompactRange.empty();
    for (let i = 0; i < 600; i++) {
      expect(Buffer.from(range.root())).toEqual(Buffer.from(tree.root()));
      const leaf = Buffer.from(`leaf ${i}`);
      tree.append([leaf]);
      range.append(leafHash(leaf));
      const restored = CompactRange.of(range.size, range.edge);
      expect(Buffer.from(restored.root())).toEqual(Buffer.from(tree.root()));
    }
    expect(() => CompactRange.of(5, range.edge)).toThrow(/needs 2 hashes/);
  });
});

const entry = (i: number, pad = 20) => ({
  dedupe: `tile-${i}`,
  data: Buffer.from(JSON.stringify({ type: 'test', i, pad: 'x'.repeat(pad) })),
});

describe.each(DIALECTS)('%s: the node serves its log as tiles', (dialect) => {
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

  it('hash tiles and entry bundles, full and partial, each with its cache lifetime', async () => {
    const first = (await fx.node.log.head()).size;
    await fx.node.sequencer.appendAll(Array.from({ length: 600 - first }, (_, i) => entry(i)));
    const { size } = await fx.node.log.head();
    expect(size).toBe(600);
    const leaves = (await fx.node.log.entries(0, size)).map((e) => Buffer.from(e.data, 'utf8'));
    const get = (path: string) => fetch(`${server.url}/log/${path}`);

    const full = await get('tile/0/001');
    expect(full.status).toBe(200);
    expect(full.headers.get('content-type')).toBe('application/octet-stream');
    expect(full.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const hashes = splitHashes(new Uint8Array(await full.arrayBuffer()), 256);
    hashes.forEach((h, i) => expect(h.equals(leafHash(leaves[256 + i]!))).toBe(true));

    // 600 = 2·256 + 88: a partial level-0 tile of 88 and a partial level-1 tile of 2.
    const partial = await get('tile/0/002.p/88');
    expect(partial.status).toBe(200);
    expect(partial.headers.get('cache-control')).toBe('public, max-age=60, must-revalidate');
    expect((await partial.arrayBuffer()).byteLength).toBe(88 * 32);
    const top = splitHashes(new Uint8Array(await (await get('tile/1/000.p/2')).arrayBuffer()), 2);
    const tile0 = splitHashes(new Uint8Array(await (await get('tile/0/000')).arrayBuffer()), 256);
    expect(top[0]!.equals(perfectRoot(tile0))).toBe(true);
    expect(top[1]!.equals(perfectRoot(hashes))).toBe(true);

    for (const [dir, bytes] of [
      ['entries', 2],
      ['entries-u32', 4],
    ] as const) {
      const bundle = await get(`tile/${dir}/002.p/88`);
      expect(bundle.status).toBe(200);
      const got = decodeBundle(new Uint8Array(await bundle.arrayBuffer()), bytes, 88);
      got.forEach((e, i) => expect(e.equals(leaves[512 + i]!)).toBe(true));
      const fullBundle = await get(`tile/${dir}/000`);
      expect(fullBundle.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(decodeBundle(new Uint8Array(await fullBundle.arrayBuffer()), bytes, 256)).toHaveLength(
        256,
      );
    }
  });

  it('answers hostile and absent tiles with a code, never a 500, and never lets them be cached', async () => {
    await fx.node.sequencer.appendAll(Array.from({ length: 300 }, (_, i) => entry(i)));
    const { size } = await fx.node.log.head();
    const cases: Array<[string, number, string]> = [
      ['tile/0/003', 404, 'NOT_FOUND'],
      [`tile/0/001.p/${(size % 256) + 1}`, 404, 'NOT_FOUND'],
      ['tile/entries/x001/000', 404, 'NOT_FOUND'],
      ['tile/2/000.p/1', 404, 'NOT_FOUND'],
      ['tile/63/000', 404, 'NOT_FOUND'],
      ['tile/0/000.p/0', 400, 'PATH_INVALID'],
      ['tile/0/000.p/256', 400, 'PATH_INVALID'],
      ['tile/0/x000/000', 400, 'PATH_INVALID'],
      ['tile/0/%30%30%30', 400, 'PATH_INVALID'],
      ['tile/0/x001/x001/x001/x001/x001/x001/x001/001', 400, 'PATH_INVALID'],
      ['tile/7/x999/x999/x999/x999/x999/999', 400, 'PATH_INVALID'],
      ['tile/64/000', 400, 'PATH_INVALID'],
      ['tile/-1/000', 400, 'PATH_INVALID'],
    ];
    for (const [path, status, code] of cases) {
      const response = await fetch(`${server.url}/log/${path}`);
      expect(response.status, path).toBe(status);
      expect(response.headers.get('cache-control'), path).toBe('no-store');
      expect(((await response.json()) as { error: { code: string } }).error.code, path).toBe(code);
    }
  });

  it('serves a leaf past 64 KiB in the wide bundle, and says so in the C2SP one', async () => {
    await fx.node.sequencer.append(entry(0, 70_000));
    const { size } = await fx.node.log.head();
    const path = `000.p/${size}`;
    const narrow = await fetch(`${server.url}/log/tile/entries/${path}`);
    expect(narrow.status).toBe(404);
    expect(((await narrow.json()) as { error: { message: string } }).error.message).toContain(
      'entries-u32',
    );
    const wide = await fetch(`${server.url}/log/tile/entries-u32/${path}`);
    expect(wide.status).toBe(200);
    const got = decodeBundle(new Uint8Array(await wide.arrayBuffer()), 4, size);
    expect(got.at(-1)!.length).toBeGreaterThan(70_000);
  });

  it('streams a wide bundle larger than a page in runs, every entry whole and in order', async () => {
    await fx.node.sequencer.appendAll([1, 2, 3].map((i) => entry(i, 2_000_000)));
    const { size } = await fx.node.log.head();
    const wide = await fetch(`${server.url}/log/tile/entries-u32/000.p/${size}`);
    expect(wide.status).toBe(200);
    const got = decodeBundle(new Uint8Array(await wide.arrayBuffer()), 4, size);
    const leaves = await fx.node.log.entries(0, size);
    got.forEach((e, i) => expect(e.equals(Buffer.from(leaves[i]!.data, 'utf8'))).toBe(true));
  });
});

describe('the witness serves its log as tiles too', () => {
  it('the same routes over its own log', async () => {
    const fx = await createFixture();
    const w = await startWitness(fx.keysDir, systemClock);
    try {
      await w.witness.sequencer.appendAll(Array.from({ length: 3 }, (_, i) => entry(i)));
      const { size } = await w.witness.log.head();
      const response = await fetch(`${w.url}/log/tile/0/000.p/${size}`);
      expect(response.status).toBe(200);
      const hashes = splitHashes(new Uint8Array(await response.arrayBuffer()), size);
      const leaves = await w.witness.log.entries(0, size);
      hashes.forEach((h, i) => expect(h.equals(leafHash(Buffer.from(leaves[i]!.data)))).toBe(true));
      expect((await fetch(`${w.url}/log/tile/0/000.p/0`)).status).toBe(400);
    } finally {
      await w.close();
      await fx.close();
    }
  });
});
