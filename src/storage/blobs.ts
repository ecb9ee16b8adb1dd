import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { FairpatchError } from '../errors.js';

/** An inclusive byte range, as HTTP range requests name it (RFC 9110, section 14.1.2). */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Where artifact bytes live, content-addressed by sha256. Two implementations: files under the data
 * directory (one node, SQLite) and chunks in the database (PostgreSQL, every node reads them).
 * Either way a blob becomes visible only complete and hash-verified.
 */
export interface BlobStore {
  /** Names the storage in messages and health reports (a directory, or the database). */
  readonly location: string;
  /** Stores `body` if it hashes to `sha256` and fits in `maxBytes`; resolves with its length. */
  put(sha256: string, body: Readable, maxBytes: number): Promise<number>;
  /** The length of a complete blob, undefined when there is none. */
  size(sha256: string): Promise<number | undefined>;
  has(sha256: string): Promise<boolean>;
  /** Streams a blob, or an inclusive byte range of it. */
  open(sha256: string, range?: ByteRange): Readable;
  /** Removes what interrupted uploads left behind (start-up); resolves with how many were removed. */
  sweep(): Promise<number>;
  /** Throws STORAGE_UNAVAILABLE, naming the path, when a write would fail now. */
  checkWritable(): Promise<void>;
}

/**
 * Hashes and counts a stream as it passes, failing once it exceeds `maxBytes`; `verify()` afterwards
 * checks the digest. Shared by both stores, so both refuse the same uploads the same way.
 */
export function verifier(
  sha256: string,
  maxBytes: number,
): { pass(chunk: Buffer): Buffer; verify(): number } {
  const hash = createHash('sha256');
  let length = 0;
  return {
    pass(chunk) {
      length += chunk.length;
      if (length > maxBytes)
        throw new FairpatchError('PAYLOAD_TOO_LARGE', `artifact exceeds ${maxBytes} bytes`);
      hash.update(chunk);
      return chunk;
    },
    verify() {
      const actual = hash.digest('hex');
      if (actual !== sha256)
        throw new FairpatchError('HASH_MISMATCH', `artifact hashes to ${actual}, not ${sha256}`);
      return length;
    },
  };
}
