import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, createFixture, listen } from '../helpers/repo.js';

// An independent reader of C2SP tlog-tiles (https://c2sp.org/tlog-tiles), written from the spec and
// RFC 6962/9162 in this file: node:crypto's SHA-256 and nothing of the project's Merkle or tile code.
// It recomputes the checkpoint's root from the served tiles and proves a leaf's inclusion from them.

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const LEAF = Buffer.from([0]);
const NODE = Buffer.from([1]);
const hashChildren = (l: Uint8Array, r: Uint8Array) => sha256(NODE, l, r);

/** `<N>` as zero-padded three-digit elements, all but the last prefixed with "x". */
function encodeIndex(n: number): string {
  const digits = String(n).padStart(3 * Math.max(1, Math.ceil(String(n).length / 3)), '0');
  const groups = digits.match(/\d{3}/g)!;
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

class SpecReader {
  readonly requests: string[] = [];
  private readonly tiles = new Map<string, Buffer>();
  constructor(
    private readonly prefix: string,
    readonly size: number,
  ) {}

  /** "The partial tile at level l for a tree of size s has floor(s / 256**l) mod 256 entries." */
  width(level: number, n: number): number {
    const hashes = Math.floor(this.size / 256 ** level);
    return n < Math.floor(hashes / 256) ? 256 : hashes % 256;
  }

  private async get(path: string): Promise<Buffer> {
    this.requests.push(path);
    const response = await fetch(`${this.prefix}/${path}`);
    if (response.status !== 200) throw new Error(`${path}: ${response.status}`);
    return Buffer.from(await response.arrayBuffer());
  }

  async tile(level: number, n: number): Promise<Buffer> {
    const w = this.width(level, n);
    const path = `tile/${level}/${encodeIndex(n)}${w === 256 ? '' : `.p/${w}`}`;
    let bytes = this.tiles.get(path);
    if (!bytes) {
      bytes = await this.get(path);
      if (bytes.length !== 32 * w) throw new Error(`${path}: ${bytes.length} bytes`);
      this.tiles.set(path, bytes);
    }
    return bytes;
  }

  /** "Entry bundles are sequences of big-endian uint16 length-prefixed log entries." */
  async bundle(n: number): Promise<Buffer[]> {
    const w = this.width(0, n);
    const bytes = await this.get(`tile/entries/${encodeIndex(n)}${w === 256 ? '' : `.p/${w}`}`);
    const entries: Buffer[] = [];
    for (let at = 0; at < bytes.length;) {
      const length = bytes.readUInt16BE(at);
      entries.push(bytes.subarray(at + 2, at + 2 + length));
      at += 2 + length;
    }
    return entries;
  }

  /**
   * The root of the perfect subtree of 2^height leaves starting at leaf `start`: a tile hash when the
   * height is a multiple of 8 ("MTH(D[(n·256 + i)·256**l : (n·256 + i + 1)·256**l])"), else its two
   * halves hashed.
   */
  async perfect(start: number, height: number): Promise<Buffer> {
    if (height % 8 === 0) {
      const level = height / 8;
      const i = start / 256 ** level;
      const t = await this.tile(level, Math.floor(i / 256));
      return t.subarray((i % 256) * 32, (i % 256) * 32 + 32);
    }
    const half = 2 ** (height - 1);
    return hashChildren(
      await this.perfect(start, height - 1),
      await this.perfect(start + half, height - 1),
    );
  }

  /** RFC 6962 2.1: MTH(D[a:b]), split at the largest power of two below b − a. */
  async mth(a: number, b: number): Promise<Buffer> {
    const n = b - a;
    if (n === 0) return sha256();
    if ((n & (n - 1)) === 0 && a % n === 0) return this.perfect(a, Math.log2(n));
    let k = 1;
    while (k * 2 < n) k *= 2;
    return hashChildren(await this.mth(a, a + k), await this.mth(a + k, b));
  }

  /** RFC 6962 2.1.1: PATH(m, D[a:b]), leaf to root. */
  async path(m: number, a: number, b: number): Promise<Buffer[]> {
    const n = b - a;
    if (n <= 1) return [];
    let k = 1;
    while (k * 2 < n) k *= 2;
    return m < k
      ? [...(await this.path(m, a, a + k)), await this.mth(a + k, b)]
      : [...(await this.path(m - k, a + k, b)), await this.mth(a, a + k)];
  }
}

/** RFC 9162 2.1.3.2: the root an inclusion proof leads to. */
function rootFromInclusion(index: number, size: number, leaf: Buffer, proof: Buffer[]): Buffer {
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) throw new Error('proof too long');
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else r = hashChildren(r, p);
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error('proof too short');
  return r;
}

describe('an independent tile reader, written from the spec', () => {
  let fx: Fixture;
  let server: { url: string; close(): Promise<void> };
  beforeAll(async () => {
    fx = await createFixture();
    // Past 256² leaves: partial tiles at levels 0, 1 and 2, full ones at 0 and 1.
    const have = (await fx.node.log.head()).size;
    const total = 65_536 + 3 * 256 + 77;
    for (let i = have; i < total; i += 5000)
      await fx.node.sequencer.appendAll(
        Array.from({ length: Math.min(5000, total - i) }, (_, j) => ({
          dedupe: `spec-${i + j}`,
          data: Buffer.from(JSON.stringify({ type: 'spec', i: i + j })),
        })),
      );
    server = await listen(fx.node.app);
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await fx?.close();
  });

  it('recomputes the checkpoint root from the served tiles, and the leaves from the bundles', async () => {
    const note = await (await fetch(`${server.url}/log/checkpoint`)).text();
    const [, sizeLine, rootLine] = note.split('\n');
    const size = Number(sizeLine);
    expect(size).toBe(65_536 + 3 * 256 + 77);
    expect(encodeIndex(1_234_067)).toBe('x001/x234/067');
    const reader = new SpecReader(`${server.url}/log`, size);

    expect((await reader.mth(0, size)).toString('base64')).toBe(rootLine);
    // Reading the root takes the partial tile of each level and the full tiles left of them.
    expect(reader.requests).toContain('tile/0/259.p/77');
    expect(reader.requests).toContain('tile/1/001.p/3');
    expect(reader.requests).toContain('tile/2/000.p/1');

    // Every leaf hash of the level-0 tiles is SHA-256(0x00 ‖ entry) of its bundle's entry, and the
    // level-1 hashes are the roots of the full level-0 tiles.
    for (const n of [0, 255, 256, Math.floor(size / 256)]) {
      const entries = await reader.bundle(n);
      const tile = await reader.tile(0, n);
      expect(entries.length).toBe(reader.width(0, n));
      entries.forEach((e, i) =>
        expect(sha256(LEAF, e).equals(tile.subarray(i * 32, i * 32 + 32))).toBe(true),
      );
    }
    const level1 = await reader.tile(1, 0);
    const tile5 = await reader.tile(0, 5);
    let hashes = Array.from({ length: 256 }, (_, i) => tile5.subarray(i * 32, i * 32 + 32));
    while (hashes.length > 1)
      hashes = Array.from({ length: hashes.length / 2 }, (_, i) =>
        hashChildren(hashes[2 * i]!, hashes[2 * i + 1]!),
      );
    expect(hashes[0]!.equals(level1.subarray(5 * 32, 6 * 32))).toBe(true);
  });

  it('proves a leaf included from the tiles alone, as the node proves it', async () => {
    const note = await (await fetch(`${server.url}/log/checkpoint`)).text();
    const [, sizeLine, rootLine] = note.split('\n');
    const size = Number(sizeLine);
    const reader = new SpecReader(`${server.url}/log`, size);
    for (const index of [0, 1234, 65_535, 65_536 + 300, size - 1]) {
      const n = Math.floor(index / 256);
      const entry = (await reader.bundle(n))[index % 256]!;
      const proof = await reader.path(index, 0, size);
      expect(rootFromInclusion(index, size, sha256(LEAF, entry), proof).toString('base64')).toBe(
        rootLine,
      );
      const served = (await (
        await fetch(`${server.url}/log/proof/inclusion?index=${index}&size=${size}`)
      ).json()) as { proof: string[] };
      expect(proof.map((p) => p.toString('hex'))).toEqual(served.proof);
    }
  });
});
