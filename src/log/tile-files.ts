import { BoundedCache } from '../common/bounded-cache.js';
import { FairpatchError } from '../errors.js';
import { ENTRIES_PAGE_BYTES } from './limits.js';
import type { LogStore } from './store.js';
import {
  LENGTH_BYTES,
  TILE_HEIGHT,
  TILE_WIDTH,
  type TileId,
  encodeBundle,
  entryTooLong,
  tileExists,
  tilePath,
} from './tiles.js';

/** A tile's bytes (a stream for a large entry bundle) and whether it is full, so never changes. */
export interface TileAnswer {
  body: Buffer | ReadableStream<Uint8Array>;
  full: boolean;
}

/** About 16 MiB of full hash tiles: the upper levels and the tiles readers are catching up on. */
const MAX_CACHED_TILES = 2048;

/**
 * The log's tiles, read from what the store already keeps: a hash tile at level L is a range of
 * stored perfect-subtree hashes at tree level 8·L (one indexed range read), an entry bundle a range
 * of leaves. Nothing is written for them, so every tree size any checkpoint named has its tiles.
 * Full hash tiles never change and are kept in a bounded cache.
 */
export class TileFiles {
  private readonly fullTiles = new BoundedCache<string, Buffer>(MAX_CACHED_TILES);

  constructor(private readonly log: LogStore) {}

  async read(tile: TileId): Promise<TileAnswer> {
    const path = tilePath(tile);
    const full = tile.width === TILE_WIDTH;
    const cached = tile.kind === 'hashes' && full ? this.fullTiles.get(path) : undefined;
    if (cached) return { body: cached, full };
    const { size } = await this.log.head();
    if (!tileExists(tile, size))
      throw new FairpatchError('NOT_FOUND', `${path} is beyond the tree of ${size} leaves`);
    const start = tile.index * TILE_WIDTH;
    const end = start + tile.width;
    if (tile.kind !== 'hashes') return { body: await this.bundle(tile.kind, start, end), full };
    const hashes = await this.log.levelHashes(tile.level * TILE_HEIGHT, start, end);
    if (hashes.length !== tile.width)
      throw new FairpatchError('INTERNAL', `${path}: ${hashes.length} stored hashes`);
    const body = Buffer.concat(hashes);
    if (full) this.fullTiles.set(path, body);
    return { body, full };
  }

  /**
   * Leaves [start, end) framed for `kind`. The C2SP bundle (uint16 lengths) holds at most 256
   * entries of 64 KiB and is built whole; the wide one can carry leaves of MAX_LEAF_BYTES, so it is
   * read and sent in runs of about a page's bytes, never held whole.
   */
  private async bundle(
    kind: 'entries' | 'entries-u32',
    start: number,
    end: number,
  ): Promise<Buffer | ReadableStream<Uint8Array>> {
    const lengths = await this.log.entryLengths(start, end);
    if (lengths.length !== end - start)
      throw new FairpatchError('INTERNAL', `leaves ${start}–${end}: ${lengths.length} stored`);
    const lengthBytes = LENGTH_BYTES[kind];
    const encode = async (from: number, to: number): Promise<Buffer> =>
      encodeBundle(
        (await this.log.entries(from, to)).map((e) => Buffer.from(e.data, 'utf8')),
        lengthBytes,
      );
    // Characters never exceed bytes: a leaf of more characters than uint16 counts cannot fit.
    if (lengthBytes === 2 || lengths.reduce((a, b) => a + b, 0) <= ENTRIES_PAGE_BYTES) {
      const longest = Math.max(0, ...lengths);
      if (lengthBytes === 2 && longest > 0xffff) throw entryTooLong(longest);
      return encode(start, end);
    }
    const runs: Array<[number, number]> = [];
    let from = start;
    let chars = 0;
    lengths.forEach((l, i) => {
      if (chars + l > ENTRIES_PAGE_BYTES && start + i > from) {
        runs.push([from, start + i]);
        from = start + i;
        chars = 0;
      }
      chars += l;
    });
    runs.push([from, end]);
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const run = runs.shift();
        if (!run) return controller.close();
        controller.enqueue(await encode(run[0], run[1]));
        if (runs.length === 0) controller.close();
      },
    });
  }
}
