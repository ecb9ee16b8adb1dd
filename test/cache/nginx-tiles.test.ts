import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TileReader } from '../../src/audit/tile-reader.js';
import { type StartedNginx, cacheServer, nginxBinary, startNginx } from '../helpers/nginx.js';
import { type Fixture, createFixture, listen } from '../helpers/repo.js';

const AUDITORS = 1000;

/**
 * The production cache (docs/production.md's nginx block, as written) in front of a node, and a
 * thousand auditors catching up on its log at once through it: each tile path reaches the origin
 * at most once, whatever the number of readers.
 */
describe('nginx in front of the log tiles', () => {
  let fx: Fixture;
  let origin: { url: string; close(): Promise<void> };
  let cache: StartedNginx;
  beforeAll(async () => {
    nginxBinary(); // fails with the install hint when nginx is missing
    fx = await createFixture();
    const have = (await fx.node.log.head()).size;
    await fx.node.sequencer.appendAll(
      Array.from({ length: 256 * 8 + 77 - have }, (_, i) => ({
        dedupe: `cached-${i}`,
        data: Buffer.from(JSON.stringify({ type: 'cached', i, pad: 'x'.repeat(200) })),
      })),
    );
    origin = await listen(fx.node.app);
    cache = await startNginx(cacheServer({ upstreams: [origin.url.replace('http://', '')] }));
  }, 60_000);
  afterAll(async () => {
    await cache?.stop();
    await origin?.close();
    await fx?.close();
  });

  it('1,000 auditors catching up at once: at most one origin request per tile path', async () => {
    const { size, root } = await fx.node.log.head();
    // A thousand readers in one process on a busy machine: a tile may wait its turn for minutes.
    const readers = Array.from(
      { length: AUDITORS },
      () => new TileReader(cache.url, size, root, 240_000),
    );
    await Promise.all(
      readers.map(async (reader) => {
        let leaves = 0;
        await reader.entries(0, size, () => leaves++);
        expect(leaves).toBe(size);
        // Hash tiles too: a root at an earlier size needs full tiles and the partial ones.
        await reader.rootAt(size - 300);
      }),
    );
    const tiles = cache.accessLog().filter((e) => e.path.startsWith('/log/tile/'));
    const perReader = readers[0]!.traffic.requests;
    expect(perReader).toBeGreaterThan(9);
    expect(tiles.length).toBe(AUDITORS * perReader);
    expect(tiles.filter((e) => e.status !== 200).slice(0, 5)).toEqual([]);
    const origins = new Map<string, number>();
    for (const e of tiles) if (e.origin) origins.set(e.path, (origins.get(e.path) ?? 0) + 1);
    const paths = new Set(tiles.map((e) => e.path));
    // Named on failure: which paths reached the origin more than once.
    expect([...origins].filter(([, n]) => n !== 1)).toEqual([]);
    expect(origins.size).toBe(paths.size);
  }, 300_000);
});
