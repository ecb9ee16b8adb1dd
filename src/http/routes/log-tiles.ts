import { Hono } from 'hono';
import type { TileFiles } from '../../log/tile-files.js';
import { parseTilePath } from '../../log/tiles.js';

/** A full tile never changes: any cache may keep it forever. */
export const FULL_TILE_CACHE = 'public, max-age=31536000, immutable';
/**
 * A partial tile's hashes do not change either, but the spec lets a log drop it once the full tile
 * exists, and readers ask for the full one then: caches keep it a minute and ask again.
 */
export const PARTIAL_TILE_CACHE = 'public, max-age=60, must-revalidate';

/**
 * C2SP tlog-tiles beside the log's checkpoint: `tile/<L>/<N>[.p/<W>]` hash tiles,
 * `tile/entries/<N>[.p/<W>]` entry bundles (uint16 lengths) and `tile/entries-u32/…` (uint32
 * lengths, for leaves past 64 KiB). A malformed path is 400 PATH_INVALID, a tile beyond the tree 404
 * NOT_FOUND; neither may be cached, since the tree grows into the second.
 */
export function tileRoutes(files: TileFiles): Hono {
  const app = new Hono();
  app.use('/tile/*', async (c, next) => {
    await next();
    if (c.res.status !== 200) c.res.headers.set('Cache-Control', 'no-store');
  });
  app.get('/tile/*', async (c) => {
    // The raw path, still percent-encoded: one spelling per tile, and `%` is no character of it.
    const path = new URL(c.req.url).pathname;
    const tile = parseTilePath(path.slice(path.indexOf('/tile/') + '/tile/'.length));
    const { body, full } = await files.read(tile);
    return c.body(body as never, 200, {
      'Content-Type': 'application/octet-stream',
      'Cache-Control': full ? FULL_TILE_CACHE : PARTIAL_TILE_CACHE,
    });
  });
  return app;
}
