import { FairpatchError } from '../errors.js';
import { MAX_LEAF_BYTES } from '../log/limits.js';
import { emptyRoot } from '../log/merkle.js';
import {
  HASH_BYTES,
  LENGTH_BYTES,
  TILE_WIDTH,
  type TileId,
  decodeBundle,
  foldRoot,
  nodeInTile,
  perfectRoot,
  perfectSubtrees,
  splitHashes,
  tileOfNode,
  tilePath,
  tileWidthAt,
} from '../log/tiles.js';
import { type NodeId, planInclusion } from '../log/tree.js';
import { bytesAtMost } from '../net/bounded.js';
import { expectOk } from '../net/errors.js';
import { reach } from '../net/unreachable.js';

/** Entry bundles in flight at once while catching up: the round trips overlap, the order is kept. */
const CONCURRENCY = 8;

const invalid = (message: string): never => {
  throw new FairpatchError('PROOF_INVALID', message);
};

/**
 * Reads a log's C2SP tiles under one checkpoint (size and root, already verified by its signature).
 * Hash tiles are trusted only once checked: the partial tile of every level by hashing them all into
 * the checkpoint's root, a full tile by its root being the hash above it in the next level's tile
 * (itself checked the same way). Entry bundles are checked by the caller, by hashing the leaves.
 */
export class TileReader {
  /** What it fetched: requests and body bytes. */
  readonly traffic = { requests: 0, bytes: 0 };
  private readonly verified = new Map<string, Buffer[]>();
  private edgeChecked = false;

  constructor(
    private readonly server: string,
    readonly size: number,
    readonly root: Uint8Array,
    /** How long one tile may take to answer. */
    private readonly timeoutMs = 30_000,
  ) {}

  private async fetch(tile: TileId): Promise<Buffer> {
    const path = tilePath(tile);
    const perEntry = tile.kind === 'hashes' ? HASH_BYTES : LENGTH_BYTES[tile.kind] + MAX_LEAF_BYTES;
    const response = await expectOk(
      await reach(new URL(`/log/${path}`, this.server), { timeoutMs: this.timeoutMs }),
      `/log/${path}`,
    );
    let body: Buffer;
    try {
      body = await bytesAtMost(response, tile.width * perEntry);
    } catch (error) {
      throw new FairpatchError('PROOF_INVALID', `/log/${path}: ${(error as Error).message}`);
    }
    this.traffic.requests++;
    this.traffic.bytes += body.length;
    return body;
  }

  /**
   * Leaves [start, end), in order, from the wide entry bundles (any leaf size): `each` sees every
   * one once. Bundles are fetched a few at a time; a bundle is the width this checkpoint gives it.
   */
  async entries(
    start: number,
    end: number,
    each: (index: number, leaf: Buffer) => void,
  ): Promise<void> {
    if (start >= end) return;
    if (end > this.size) invalid(`leaves up to ${end} are not in a tree of ${this.size}`);
    const first = Math.floor(start / TILE_WIDTH);
    const last = Math.ceil(end / TILE_WIDTH) - 1;
    let next = first;
    const pending: Array<Promise<Buffer[]>> = [];
    const launch = (): void => {
      const index = next++;
      const width = tileWidthAt(0, index, this.size);
      const bundle = this.fetch({ kind: 'entries-u32', level: 0, index, width }).then((b) =>
        decodeBundle(b, LENGTH_BYTES['entries-u32'], width),
      );
      // Awaited in order below; until then a failure must not count as unhandled.
      bundle.catch(() => {});
      pending.push(bundle);
    };
    while (next <= last && pending.length < CONCURRENCY) launch();
    for (let index = first; index <= last; index++) {
      const leaves = await pending.shift()!;
      if (next <= last) launch();
      leaves.forEach((leaf, i) => {
        const at = index * TILE_WIDTH + i;
        if (at >= start && at < end) each(at, leaf);
      });
    }
  }

  /** A checked hash tile of this tree (full, or the partial one at the right edge of its level). */
  private async hashTile(level: number, index: number): Promise<Buffer[]> {
    const width = tileWidthAt(level, index, this.size);
    if (width === 0) invalid(`tile ${level}/${index} is beyond a tree of ${this.size}`);
    const key = `${level}/${index}`;
    const known = this.verified.get(key);
    if (known) return known;
    if (width < TILE_WIDTH) {
      await this.checkRightEdge();
      return this.verified.get(key)!;
    }
    const tile: TileId = { kind: 'hashes', level, index, width };
    const hashes = splitHashes(await this.fetch(tile), width);
    const above = await this.hashTile(level + 1, Math.floor(index / TILE_WIDTH));
    if (!above[index % TILE_WIDTH]!.equals(perfectRoot(hashes)))
      invalid(`${tilePath(tile)} does not hash to its entry in the tile above it`);
    this.verified.set(key, hashes);
    return hashes;
  }

  /** The partial tile of every level, hashed together into the checkpoint's root. */
  private async checkRightEdge(): Promise<void> {
    if (this.edgeChecked) return;
    const tiles = new Map<string, Buffer[]>();
    for (let level = 0; TILE_WIDTH ** level <= this.size; level++) {
      const index = Math.floor(this.size / TILE_WIDTH ** (level + 1));
      const width = tileWidthAt(level, index, this.size);
      if (width === 0) continue;
      const tile: TileId = { kind: 'hashes', level, index, width };
      tiles.set(`${level}/${index}`, splitHashes(await this.fetch(tile), width));
    }
    // Every perfect subtree of the whole tree lies in its level's partial tile.
    const root = foldRoot(
      perfectSubtrees(this.size).map((n) => {
        const t = tileOfNode(n.level, n.index);
        return nodeInTile(tiles.get(`${t.level}/${t.index}`) ?? [], n.level, n.index);
      }),
    );
    if (!Buffer.from(root).equals(Buffer.from(this.root)))
      invalid('the tiles served do not hash to the checkpoint root');
    for (const [key, hashes] of tiles) this.verified.set(key, hashes);
    this.edgeChecked = true;
  }

  /** Tree node (`level`, `index`), a perfect subtree of this tree, from checked tiles. */
  async node(id: NodeId): Promise<Uint8Array> {
    if ((id.index + 1) * 2 ** id.level > this.size)
      invalid(`node ${id.level}/${id.index} is not a full subtree of a tree of ${this.size}`);
    const t = tileOfNode(id.level, id.index);
    return nodeInTile(await this.hashTile(t.level, t.index), id.level, id.index);
  }

  /** The root of the first `size` leaves of this tree. */
  async rootAt(size: number): Promise<Uint8Array> {
    if (size > this.size) invalid(`no root at ${size} in a tree of ${this.size}`);
    if (size === this.size) return this.root;
    if (size === 0) return emptyRoot();
    const nodes: Uint8Array[] = [];
    for (const n of perfectSubtrees(size)) nodes.push(await this.node(n));
    return foldRoot(nodes);
  }

  /** RFC 9162 inclusion proof of leaf `index` in the tree of `size`, from checked tiles. */
  async inclusionProof(index: number, size = this.size): Promise<Uint8Array[]> {
    const plan = planInclusion(index, size);
    const nodes = new Map<string, Uint8Array>();
    for (const id of plan.needs) nodes.set(`${id.level}/${id.index}`, await this.node(id));
    return plan.assemble((id) => nodes.get(`${id.level}/${id.index}`)!);
  }
}
