import { FairpatchError } from '../errors.js';
import { emptyRoot, leafHash, nodeHash, splitPoint } from './merkle.js';

/**
 * Proofs for any tree size from stored perfect-subtree hashes (no recomputing the whole
 * tree). Node (level, index) is the root of leaves [index·2^level, (index+1)·2^level); once written
 * it never changes. Any subtree RFC 9162 needs decomposes into O(log n) of them.
 */
export interface NodeId {
  level: number;
  index: number;
}

export type NodeGetter = (id: NodeId) => Uint8Array;

export interface Plan<T> {
  /** Every stored node the result needs: fetch them in one query. */
  needs: NodeId[];
  assemble(get: NodeGetter): T;
}

const invalid = (message: string): never => {
  throw new FairpatchError('QUERY_INVALID', message);
};

function checkSize(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) invalid(`${what} must be a non-negative integer`);
}

/** MTH(D[start:end]) (RFC 9162 2.1.1), read from perfect nodes. */
function subtree(start: number, end: number, get: NodeGetter): Uint8Array {
  const n = end - start;
  const level = Math.log2(n);
  if (Number.isInteger(level) && start % n === 0) return get({ level, index: start / n });
  const k = splitPoint(n);
  return nodeHash(subtree(start, start + k, get), subtree(start + k, end, get));
}

/** MTH(D[start:end]) */
type Subtree = (start: number, end: number) => Uint8Array;

/**
 * RFC 9162 2.1.3.1 PATH(m, D[start:end]), walked from the root down (the siblings come out root
 * first, so the path is their reverse): one array per proof, not one per level.
 */
function path(m: number, start: number, end: number, sub: Subtree): Uint8Array[] {
  const siblings: Uint8Array[] = [];
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (m < k) {
      siblings.push(sub(start + k, end));
      end = start + k;
    } else {
      siblings.push(sub(start, start + k));
      start += k;
      m -= k;
    }
  }
  return siblings.reverse();
}

/** RFC 9162 2.1.4.1 SUBPROOF(m, D[start:end], b). */
function subproof(
  m: number,
  start: number,
  end: number,
  complete: boolean,
  get: NodeGetter,
): Uint8Array[] {
  const n = end - start;
  if (m === n) return complete ? [] : [subtree(start, end, get)];
  const k = splitPoint(n);
  return m <= k
    ? [...subproof(m, start, start + k, complete, get), subtree(start + k, end, get)]
    : [...subproof(m - k, start + k, end, false, get), subtree(start, start + k, get)];
}

/** Runs `compute` once with a recording getter to learn the nodes it needs. */
function plan<T>(compute: (get: NodeGetter) => T): Plan<T> {
  const seen = new Map<string, NodeId>();
  compute((id) => {
    seen.set(`${id.level}/${id.index}`, id);
    return new Uint8Array(32);
  });
  return { needs: [...seen.values()], assemble: compute };
}

export function planRoot(size: number): Plan<Uint8Array> {
  checkSize(size, 'size');
  if (size === 0) invalid('the empty tree has no stored root');
  return plan((get) => subtree(0, size, get));
}

export function planInclusion(index: number, size: number): Plan<Uint8Array[]> {
  checkSize(index, 'index');
  checkSize(size, 'size');
  if (index >= size) invalid(`index ${index} is not below size ${size}`);
  return plan((get) => path(index, 0, size, (start, end) => subtree(start, end, get)));
}

/**
 * Inclusion proofs of many leaves in one tree: the subtrees their paths share (the tree's right
 * edge, above all) are hashed once for the batch, not once per proof.
 */
export function planInclusions(indices: readonly number[], size: number): Plan<Uint8Array[][]> {
  checkSize(size, 'size');
  for (const index of indices) {
    checkSize(index, 'index');
    if (index >= size) invalid(`index ${index} is not below size ${size}`);
  }
  return plan((get) => {
    const memo = new Map<string, Uint8Array>();
    const sub: Subtree = (start, end) => {
      const id = `${start}/${end}`;
      let hash = memo.get(id);
      if (!hash) memo.set(id, (hash = subtree(start, end, get)));
      return hash;
    };
    return indices.map((index) => path(index, 0, size, sub));
  });
}

export function planConsistency(first: number, second: number): Plan<Uint8Array[]> {
  checkSize(first, 'first');
  checkSize(second, 'second');
  if (first > second) invalid(`first ${first} is larger than second ${second}`);
  if (first === 0 || first === second) return { needs: [], assemble: () => [] };
  return plan((get) => subproof(first, 0, second, true, get));
}

/**
 * The nodes appending `leafHashes` after `size` leaves creates: each leaf, and each parent it
 * completes. `get` serves the existing right edge; nodes made in this batch are served from it too.
 */
export function appendBatch(
  size: number,
  leafHashes: readonly Uint8Array[],
  get: NodeGetter,
): Array<{ id: NodeId; hash: Uint8Array }> {
  checkSize(size, 'size');
  const made = new Map<string, Uint8Array>();
  const out: Array<{ id: NodeId; hash: Uint8Array }> = [];
  const read = (id: NodeId): Uint8Array => made.get(`${id.level}/${id.index}`) ?? get(id);
  const put = (id: NodeId, hash: Uint8Array): void => {
    made.set(`${id.level}/${id.index}`, hash);
    out.push({ id, hash });
  };
  leafHashes.forEach((hash, i) => {
    let index = size + i;
    let level = 0;
    put({ level, index }, hash);
    while (index % 2 === 1) {
      const parent = nodeHash(read({ level, index: index - 1 }), read({ level, index }));
      index = (index - 1) / 2;
      level++;
      put({ level, index }, parent);
    }
  });
  return out;
}

/** An in-memory log tree (tests, benchmarks and the auditor's own recomputation). */
export class MemoryTree {
  /**
   * Every node by level, in index order: a level's nodes complete left to right, so each is pushed.
   * Arrays, not a map keyed by strings: an auditor builds the tree of millions of leaves, and a key
   * string and a map entry per node cost more than hashing it (a million-leaf audit spent most of
   * its time there).
   */
  private readonly levels: Uint8Array[][] = [[]];
  private count = 0;
  private readonly get: NodeGetter = (id) => {
    const hash = this.levels[id.level]?.[id.index];
    if (!hash) throw new FairpatchError('INTERNAL', `node ${id.level}/${id.index} missing`);
    return hash;
  };

  get size(): number {
    return this.count;
  }

  append(leaves: readonly Uint8Array[]): void {
    for (const leaf of leaves) this.appendHash(leafHash(leaf));
  }

  appendHashes(hashes: readonly Uint8Array[]): void {
    for (const hash of hashes) this.appendHash(hash);
  }

  /** Adds one leaf hash and every parent it completes (RFC 9162 2.1.1, left to right). */
  private appendHash(hash: Uint8Array): void {
    let index = this.count;
    let level = 0;
    let node = hash;
    this.levels[0]!.push(node);
    while (index % 2 === 1) {
      node = nodeHash(this.levels[level]![index - 1]!, node);
      index = (index - 1) / 2;
      level++;
      (this.levels[level] ??= []).push(node);
    }
    this.count++;
  }

  root(size = this.count): Uint8Array {
    if (size > this.count) invalid(`tree has ${this.count} leaves`);
    return size === 0 ? emptyRoot() : planRoot(size).assemble(this.get);
  }

  inclusionProof(index: number, size = this.count): Uint8Array[] {
    if (size > this.count) invalid(`tree has ${this.count} leaves`);
    return planInclusion(index, size).assemble(this.get);
  }

  inclusionProofs(indices: readonly number[], size = this.count): Uint8Array[][] {
    if (size > this.count) invalid(`tree has ${this.count} leaves`);
    return planInclusions(indices, size).assemble(this.get);
  }

  consistencyProof(first: number, second = this.count): Uint8Array[] {
    if (second > this.count) invalid(`tree has ${this.count} leaves`);
    return planConsistency(first, second).assemble(this.get);
  }
}
