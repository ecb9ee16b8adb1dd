import { describe, expect, it } from 'vitest';
import { errorCode, loadVectors } from '../helpers/errors.js';
import {
  emptyRoot,
  leafHash,
  nodeHash,
  splitPoint,
  verifyConsistency,
  verifyInclusion,
} from '../../src/log/merkle.js';
import { MemoryTree } from '../../src/log/tree.js';

interface Vectors {
  empty_tree_root: string;
  leaves: string[];
  roots_by_size: Record<string, string>;
  inclusion: Array<{ index: number; tree_size: number; leaf_hash: string; proof: string[] }>;
  consistency: Array<{ first: number; second: number; proof: string[] }>;
}
const vectors = loadVectors<Vectors>();
const hex = (s: string) => Buffer.from(s, 'hex');
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const tree = new MemoryTree();
tree.append(vectors.leaves.map(hex));
const root = (n: number) => hex(vectors.roots_by_size[String(n)]!);

describe('RFC 6962 vectors', () => {
  it('empty root and every root by size', () => {
    expect(toHex(emptyRoot())).toBe(vectors.empty_tree_root);
    for (const [size, r] of Object.entries(vectors.roots_by_size))
      expect(toHex(tree.root(Number(size)))).toBe(r);
  });

  it('every inclusion vector verifies and is reproduced from stored nodes', () => {
    for (const v of vectors.inclusion) {
      expect(v.leaf_hash).toBe(toHex(leafHash(hex(vectors.leaves[v.index]!))));
      verifyInclusion(v.index, v.tree_size, hex(v.leaf_hash), v.proof.map(hex), root(v.tree_size));
      expect(tree.inclusionProof(v.index, v.tree_size).map(toHex)).toEqual(v.proof);
    }
  });

  it('every consistency vector verifies and is reproduced from stored nodes', () => {
    for (const v of vectors.consistency) {
      verifyConsistency(v.first, v.second, root(v.first), root(v.second), v.proof.map(hex));
      expect(tree.consistencyProof(v.first, v.second).map(toHex)).toEqual(v.proof);
    }
  });
});

describe('when a proof is tampered with', () => {
  const inc = vectors.inclusion.find((v) => v.proof.length >= 2)!;
  const con = vectors.consistency.find((v) => v.proof.length >= 2)!;
  const flip = (p: string[], i: number) =>
    p.map((x, j) => (j === i ? x.replace(/^./, (c) => (c === '0' ? '1' : '0')) : x));
  // Each claim is checked against the genuine root for the size it claims.
  const inclusion = (over: Partial<typeof inc>) => {
    const v = { ...inc, ...over };
    const r = v.tree_size <= 8 ? root(v.tree_size) : root(8);
    return errorCode(() =>
      verifyInclusion(v.index, v.tree_size, hex(v.leaf_hash), v.proof.map(hex), r),
    );
  };
  const consistency = (over: Partial<typeof con>, roots = [root(con.first), root(con.second)]) => {
    const v = { ...con, ...over };
    return errorCode(() =>
      verifyConsistency(v.first, v.second, roots[0]!, roots[1]!, v.proof.map(hex)),
    );
  };

  it('a flipped bit in any inclusion proof element', () => {
    for (const i of inc.proof.keys())
      expect(inclusion({ proof: flip(inc.proof, i) })).toBe('PROOF_INVALID');
  });
  it('a truncated or extended inclusion proof', () => {
    expect(inclusion({ proof: inc.proof.slice(0, -1) })).toBe('PROOF_INVALID');
    expect(inclusion({ proof: [...inc.proof, inc.proof[0]!] })).toBe('PROOF_INVALID');
  });
  it('a wrong index or size', () => {
    expect(inclusion({ index: (inc.index + 1) % inc.tree_size })).toBe('PROOF_INVALID');
    expect(inclusion({ tree_size: inc.tree_size + 1 })).toBe('PROOF_INVALID');
    expect(inclusion({ index: inc.tree_size })).toBe('PROOF_INVALID');
  });
  it('a flipped bit in any consistency proof element', () => {
    for (const i of con.proof.keys())
      expect(consistency({ proof: flip(con.proof, i) })).toBe('PROOF_INVALID');
  });
  it('a truncated consistency proof, or swapped roots (a rewritten log)', () => {
    expect(consistency({ proof: con.proof.slice(1) })).toBe('PROOF_INVALID');
    expect(consistency({}, [root(con.second), root(con.first)])).toBe('PROOF_INVALID');
    expect(consistency({}, [root(con.first), root(con.second - 1)])).toBe('PROOF_INVALID');
  });
  it('the untampered proofs pass (the cases above are not a broken verifier)', () => {
    expect(inclusion({})).toBe('ACCEPTED');
    expect(consistency({})).toBe('ACCEPTED');
  });
});

/** RFC 9162's recursive definitions, written plainly, as the reference for the stored-node version. */
function mth(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return emptyRoot();
  if (leaves.length === 1) return leafHash(leaves[0]!);
  const k = splitPoint(leaves.length);
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}
function refPath(m: number, d: Uint8Array[]): Uint8Array[] {
  if (d.length <= 1) return [];
  const k = splitPoint(d.length);
  return m < k
    ? [...refPath(m, d.slice(0, k)), mth(d.slice(k))]
    : [...refPath(m - k, d.slice(k)), mth(d.slice(0, k))];
}
function refSub(m: number, d: Uint8Array[], b: boolean): Uint8Array[] {
  if (m === d.length) return b ? [] : [mth(d)];
  const k = splitPoint(d.length);
  return m <= k
    ? [...refSub(m, d.slice(0, k), b), mth(d.slice(k))]
    : [...refSub(m - k, d.slice(k), false), mth(d.slice(0, k))];
}

describe('proofs from stored nodes match the RFC definitions for every size up to 70', () => {
  const leaves = Array.from({ length: 70 }, (_, i) => Buffer.from(`leaf ${i}`));
  const big = new MemoryTree();
  // Appended in uneven batches, as the sequencer does.
  for (let i = 0; i < leaves.length; i += 1 + (i % 7))
    big.append(leaves.slice(i, Math.min(leaves.length, i + 1 + (i % 7))));

  it('roots, inclusion and consistency', () => {
    for (let n = 1; n <= 70; n++) {
      const d = leaves.slice(0, n);
      const r = big.root(n);
      expect(toHex(r)).toBe(toHex(mth(d)));
      for (let m = 0; m < n; m++) {
        const proof = big.inclusionProof(m, n);
        expect(proof.map(toHex)).toEqual(refPath(m, d).map(toHex));
        verifyInclusion(m, n, leafHash(d[m]!), proof, r);
      }
      // A batch of proofs (as a witness answers a batch of receipts) is each proof, in order.
      const indices = Array.from({ length: n }, (_, m) => (m * 7) % n).concat([n - 1, 0]);
      expect(big.inclusionProofs(indices, n).map((p) => p.map(toHex))).toEqual(
        indices.map((m) => refPath(m, d).map(toHex)),
      );
      for (let m = 1; m < n; m++) {
        const proof = big.consistencyProof(m, n);
        expect(proof.map(toHex)).toEqual(refSub(m, d, true).map(toHex));
        verifyConsistency(m, n, big.root(m), r, proof);
      }
    }
  });
});
