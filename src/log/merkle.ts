import { createHash, hash } from 'node:crypto';
import { FairpatchError } from '../errors.js';

// RFC 9162 section 2.1.1: domain-separated hashing, so a leaf can never be passed off as a node.
const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

// One-shot hashing (crypto.hash): an auditor hashes every leaf and node of a log of millions, and
// building a Hash object per call cost as much as the hashing itself.

export function leafHash(data: Uint8Array): Uint8Array {
  return hash('sha256', Buffer.concat([LEAF_PREFIX, data]), 'buffer');
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return hash('sha256', Buffer.concat([NODE_PREFIX, left, right], 65), 'buffer');
}

/** MTH({}) = SHA-256 of the empty string (RFC 9162 2.1.1). */
export function emptyRoot(): Uint8Array {
  return createHash('sha256').digest();
}

/** Largest power of two strictly smaller than n (n > 1): where RFC 9162 splits a tree. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const equal = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
const odd = (n: number): boolean => n % 2 === 1;
const half = (n: number): number => Math.floor(n / 2);
const invalid = (message: string): never => {
  throw new FairpatchError('PROOF_INVALID', message);
};

/** RFC 9162 2.1.3.2: verifies that `leaf` is at `index` in the tree of `size` with root `root`. */
export function verifyInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size)
    invalid(`index ${index} is outside a tree of ${size}`);
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (p.length !== 32) invalid('proof element is not 32 bytes');
    if (sn === 0) invalid('inclusion proof is too long');
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!odd(fn)) while (!odd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else r = nodeHash(r, p);
    [fn, sn] = [half(fn), half(sn)];
  }
  if (sn !== 0) invalid('inclusion proof is too short');
  if (!equal(r, root)) invalid('inclusion proof does not lead to the root');
}

/** RFC 9162 2.1.4.2: verifies that the tree of `second` leaves extends the tree of `first`. */
export function verifyConsistency(
  first: number,
  second: number,
  firstRoot: Uint8Array,
  secondRoot: Uint8Array,
  proof: readonly Uint8Array[],
): void {
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first < 0 || first > second)
    invalid(`no consistency between sizes ${first} and ${second}`);
  if (proof.some((p) => p.length !== 32)) invalid('proof element is not 32 bytes');
  if (first === second) {
    if (proof.length !== 0 || !equal(firstRoot, secondRoot))
      invalid('equal sizes need an empty proof and equal roots');
    return;
  }
  if (first === 0) {
    if (proof.length !== 0) invalid('the empty tree needs an empty proof');
    return;
  }
  // A first tree of 2^k leaves is a node of the second: its root is the proof's implicit first element.
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof];
  if (path.length === 0) invalid('consistency proof is empty');
  let fn = first - 1;
  let sn = second - 1;
  while (odd(fn)) [fn, sn] = [half(fn), half(sn)];
  let fr = path[0] as Uint8Array;
  let sr = path[0] as Uint8Array;
  for (const c of path.slice(1)) {
    if (sn === 0) invalid('consistency proof is too long');
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!odd(fn)) while (!odd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else sr = nodeHash(sr, c);
    [fn, sn] = [half(fn), half(sn)];
  }
  if (sn !== 0) invalid('consistency proof is too short');
  if (!equal(fr, firstRoot)) invalid('consistency proof does not lead to the first root');
  if (!equal(sr, secondRoot)) invalid('consistency proof does not lead to the second root');
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}
