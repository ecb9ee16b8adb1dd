import { FairpatchError } from '../errors.js';
import { MAX_LEAF_BYTES } from './limits.js';
import { emptyRoot, nodeHash } from './merkle.js';

// C2SP tlog-tiles (https://c2sp.org/tlog-tiles): the log as static, cacheable files. A tile at level
// L holds up to 256 consecutive hashes of tree level 8·L; a full one never changes, so any cache may
// keep it forever, and a reader catching up fetches only the tiles its new entries are in.

/** Tree levels one tile spans: a tile's 256 hashes are the leaves of a subtree of height 8. */
export const TILE_HEIGHT = 8;
/** Hashes in a full tile (8,192 bytes). */
export const TILE_WIDTH = 256;
export const HASH_BYTES = 32;
/** The spec's bound on `<L>`. */
export const MAX_TILE_LEVEL = 63;
/**
 * Path elements an index may take. Six reach 10^18, past any index a safe integer can address;
 * more is refused before any arithmetic.
 */
const MAX_INDEX_ELEMENTS = 6;

/**
 * What a path names: a hash tile, a C2SP entry bundle (entries prefixed by a big-endian uint16
 * length), or the same bundle with uint32 lengths. A fairpatch leaf may be up to MAX_LEAF_BYTES
 * (vendor metadata, a batch of receipts), past what uint16 can frame; the spec lets a log serve
 * entries in another format at another URL, and the auditor reads that one.
 */
export type TileKind = 'hashes' | 'entries' | 'entries-u32';

export interface TileId {
  kind: TileKind;
  /** 0 for entry bundles. */
  level: number;
  index: number;
  /** 1…256; 256 is a full tile. */
  width: number;
}

/** The URL path element for each entry bundle format, under `tile/`. */
const BUNDLE_DIR: Record<Exclude<TileKind, 'hashes'>, string> = {
  entries: 'entries',
  'entries-u32': 'entries-u32',
};

/** Length prefix bytes of an entry in each bundle format. */
export const LENGTH_BYTES: Record<Exclude<TileKind, 'hashes'>, 2 | 4> = {
  entries: 2,
  'entries-u32': 4,
};

const invalid = (message: string): never => {
  throw new FairpatchError('PATH_INVALID', message);
};

/** `1234067` as `x001/x234/067`: zero-padded groups of three digits, all but the last with an `x`. */
export function formatTileIndex(index: number): string {
  if (!Number.isSafeInteger(index) || index < 0) invalid('a tile index is a non-negative integer');
  const groups: string[] = [];
  let rest = index;
  do {
    groups.unshift(String(rest % 1000).padStart(3, '0'));
    rest = Math.floor(rest / 1000);
  } while (rest > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

/** The path of a tile below the log's prefix: `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`. */
export function tilePath(tile: TileId): string {
  const dir = tile.kind === 'hashes' ? String(tile.level) : BUNDLE_DIR[tile.kind];
  const partial = tile.width < TILE_WIDTH ? `.p/${tile.width}` : '';
  return `tile/${dir}/${formatTileIndex(tile.index)}${partial}`;
}

/**
 * Reads a path below `tile/` strictly: one spelling per tile (no `x000` prefix group, no leading
 * zeros, no `.p/256`), so a cache holds one copy of each and nothing hostile reaches arithmetic.
 */
export function parseTilePath(path: string): TileId {
  const parts = path.split('/');
  if (parts.length > MAX_INDEX_ELEMENTS + 3) invalid('too many path elements');
  const head = parts.shift() ?? '';
  let kind: TileKind;
  let level = 0;
  if (head === BUNDLE_DIR.entries) kind = 'entries';
  else if (head === BUNDLE_DIR['entries-u32']) kind = 'entries-u32';
  else if (/^(0|[1-9]\d?)$/.test(head) && Number(head) <= MAX_TILE_LEVEL) {
    kind = 'hashes';
    level = Number(head);
  } else return invalid('the level is a decimal from 0 to 63, or "entries"');
  let width = TILE_WIDTH;
  const last = parts.length - 1;
  if (parts.length >= 2 && parts[last - 1]!.endsWith('.p')) {
    const w = parts.pop()!;
    if (!/^[1-9]\d{0,2}$/.test(w) || Number(w) >= TILE_WIDTH)
      invalid('a partial width is a decimal from 1 to 255');
    width = Number(w);
    parts[last - 1] = parts[last - 1]!.slice(0, -2);
  }
  if (parts.length === 0 || parts.length > MAX_INDEX_ELEMENTS)
    invalid(`a tile index is 1 to ${MAX_INDEX_ELEMENTS} path elements`);
  let index = 0;
  parts.forEach((part, i) => {
    const group = i < parts.length - 1 ? /^x(\d{3})$/.exec(part) : /^(\d{3})$/.exec(part);
    if (!group) invalid('a tile index is groups of three digits, all but the last after an "x"');
    if (i === 0 && parts.length > 1 && group![1] === '000')
      invalid('a tile index has no leading zero groups');
    index = index * 1000 + Number(group![1]);
  });
  // The tile's first leaf must be addressable: anything past that is no tile of any log here.
  if (TILE_WIDTH ** (level + 1) * index > Number.MAX_SAFE_INTEGER)
    invalid('the tile index is past any tree this log can hold');
  return { kind, level, index, width };
}

/**
 * How many hashes tile `index` at `level` holds in a tree of `size` leaves (0: it does not exist
 * yet). The tiles of one level fill left to right; only the rightmost can be partial.
 */
export function tileWidthAt(level: number, index: number, size: number): number {
  const hashes = Math.floor(size / TILE_WIDTH ** level);
  return Math.max(0, Math.min(TILE_WIDTH, hashes - index * TILE_WIDTH));
}

/** Whether a tree of `size` leaves holds every hash the tile names (a partial tile stays valid). */
export function tileExists(tile: TileId, size: number): boolean {
  return tileWidthAt(tile.level, tile.index, size) >= tile.width;
}

/** An entry the bundle's lengths cannot frame: that bundle does not exist, the wide one does. */
export function entryTooLong(bytes: number): FairpatchError {
  return new FairpatchError(
    'NOT_FOUND',
    `an entry of ${bytes} bytes does not fit this bundle's uint16 lengths: read tile/entries-u32/ instead`,
    { details: { entryBytes: bytes } },
  );
}

/**
 * An entry bundle: each entry after its length, big-endian, in `lengthBytes` bytes. An entry too
 * long for the format is refused (NOT_FOUND, naming the wide format): such a bundle cannot exist.
 */
export function encodeBundle(entries: readonly Uint8Array[], lengthBytes: 2 | 4): Buffer {
  const max = lengthBytes === 2 ? 0xffff : MAX_LEAF_BYTES;
  let total = 0;
  for (const e of entries) {
    if (e.length > max) throw entryTooLong(e.length);
    total += lengthBytes + e.length;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const e of entries) {
    if (lengthBytes === 2) out.writeUInt16BE(e.length, at);
    else out.writeUInt32BE(e.length, at);
    at += lengthBytes;
    out.set(e, at);
    at += e.length;
  }
  return out;
}

/**
 * The entries of a bundle expected to hold exactly `count`; anything else (short, long, an entry
 * over the leaf limit) is PROOF_INVALID: the server's bytes, not the reader's fault.
 */
export function decodeBundle(bytes: Uint8Array, lengthBytes: 2 | 4, count: number): Buffer[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const out: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    if (out.length === count) break;
    if (at + lengthBytes > buf.length) break;
    const length = lengthBytes === 2 ? buf.readUInt16BE(at) : buf.readUInt32BE(at);
    at += lengthBytes;
    if (length > MAX_LEAF_BYTES || at + length > buf.length) break;
    out.push(buf.subarray(at, at + length));
    at += length;
  }
  if (out.length !== count || at !== buf.length)
    throw new FairpatchError(
      'PROOF_INVALID',
      `an entry bundle is not ${count} well-framed entries (${buf.length} bytes)`,
    );
  return out;
}

/** The hashes of a hash tile expected to hold `width`; another length is PROOF_INVALID. */
export function splitHashes(bytes: Uint8Array, width: number): Buffer[] {
  if (bytes.length !== width * HASH_BYTES)
    throw new FairpatchError(
      'PROOF_INVALID',
      `a tile of ${width} hashes is ${width * HASH_BYTES} bytes, not ${bytes.length}`,
    );
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  return Array.from({ length: width }, (_, i) =>
    buf.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES),
  );
}

/** MTH of 2^k hashes (a perfect subtree whose leaves are those hashes). */
export function perfectRoot(hashes: readonly Uint8Array[]): Uint8Array {
  let level = [...hashes];
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(nodeHash(level[i]!, level[i + 1]!));
    level = next;
  }
  return level[0]!;
}

/**
 * The perfect subtrees a tree of `size` leaves decomposes into, left to right: one per set bit of
 * `size`, largest first. Its root is theirs folded from the right (`foldRoot`).
 */
export function perfectSubtrees(size: number): Array<{ level: number; index: number }> {
  const out: Array<{ level: number; index: number }> = [];
  let prefix = 0;
  for (let level = 52; level >= 0; level--) {
    const span = 2 ** level;
    if (Math.floor(size / span) % 2 === 1) {
      out.push({ level, index: prefix / span });
      prefix += span;
    }
  }
  return out;
}

/** MTH of a tree from the roots of its perfect subtrees, left to right (RFC 9162 2.1.1). */
export function foldRoot(subtrees: readonly Uint8Array[]): Uint8Array {
  if (subtrees.length === 0) return emptyRoot();
  let root = subtrees[subtrees.length - 1]!;
  for (let i = subtrees.length - 2; i >= 0; i--) root = nodeHash(subtrees[i]!, root);
  return root;
}

/**
 * The tree node (`level`, `index`) from the tile holding it: a node at tree level 8·L + r is the
 * root of 2^r consecutive hashes of a level-L tile (never across two: 2^r divides 256).
 */
export function nodeInTile(tile: readonly Uint8Array[], level: number, index: number): Uint8Array {
  const r = level % TILE_HEIGHT;
  const offset = (index * 2 ** r) % TILE_WIDTH;
  const hashes = tile.slice(offset, offset + 2 ** r);
  if (hashes.length !== 2 ** r)
    throw new FairpatchError('PROOF_INVALID', `a tile is too short for node ${level}/${index}`);
  return perfectRoot(hashes);
}

/** Which tile (level, index) holds tree node (`level`, `index`). */
export function tileOfNode(level: number, index: number): { level: number; index: number } {
  const r = level % TILE_HEIGHT;
  return {
    level: (level - r) / TILE_HEIGHT,
    index: Math.floor((index * 2 ** r) / TILE_WIDTH),
  };
}

/**
 * The right edge of a tree (its compact range from 0): one perfect-subtree hash per set bit of
 * `size`, largest first. It is all a reader must keep to extend a verified tree with new leaves and
 * recompute the root: what an auditor saves between runs instead of the tree.
 */
export class CompactRange {
  private constructor(
    private count: number,
    /** Perfect subtree roots, largest (leftmost) first; `levels[i]` is the height of `hashes[i]`. */
    private readonly hashes: Uint8Array[],
    private readonly levels: number[],
  ) {}

  static empty(): CompactRange {
    return new CompactRange(0, [], []);
  }

  /** From a saved edge; refused when it does not have one hash per set bit of `size`. */
  static of(size: number, edge: readonly Uint8Array[]): CompactRange {
    if (!Number.isSafeInteger(size) || size < 0)
      throw new FairpatchError('BAD_REQUEST', `a saved tree size must be a safe integer`);
    const levels = perfectSubtrees(size).map((s) => s.level);
    if (
      !Number.isSafeInteger(size) ||
      size < 0 ||
      levels.length !== edge.length ||
      edge.some((h) => h.length !== HASH_BYTES)
    )
      throw new FairpatchError(
        'BAD_REQUEST',
        `a saved tree edge for size ${size} needs ${levels.length} hashes of 32 bytes`,
      );
    return new CompactRange(size, [...edge], levels);
  }

  get size(): number {
    return this.count;
  }

  get edge(): readonly Uint8Array[] {
    return this.hashes;
  }

  /** Appends one leaf hash, merging every pair of equal-height subtrees it completes. */
  append(leafHash: Uint8Array): void {
    let hash = leafHash;
    let level = 0;
    while (this.levels.length > 0 && this.levels[this.levels.length - 1] === level) {
      this.levels.pop();
      hash = nodeHash(this.hashes.pop()!, hash);
      level++;
    }
    this.hashes.push(hash);
    this.levels.push(level);
    this.count++;
  }

  /** MTH of the whole tree (RFC 9162 2.1.1): the edge folded from the right. */
  root(): Uint8Array {
    return foldRoot(this.hashes);
  }

  clone(): CompactRange {
    return new CompactRange(this.count, [...this.hashes], [...this.levels]);
  }
}
