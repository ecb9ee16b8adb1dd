import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { privateDir } from '../common/files.js';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FairpatchError } from '../errors.js';

/** Content-addressed artifact files under `<data>/blobs/ab/cdef…`. */
export class BlobStore {
  constructor(private readonly dir: string) {
    // Pending artifacts are embargoed fixes: owner-only, like the database.
    privateDir(dir);
    privateDir(join(dir, 'tmp'));
  }

  path(sha256: string): string {
    return join(this.dir, sha256.slice(0, 2), sha256.slice(2));
  }

  has(sha256: string): boolean {
    return existsSync(this.path(sha256));
  }

  /**
   * Streams `body` to a temporary file while hashing it, and moves it into place only if its hash
   * is `sha256` and it fits in `maxBytes`: a half-written or mislabelled blob is never visible.
   */
  async put(sha256: string, body: Readable, maxBytes: number): Promise<number> {
    const tmp = join(this.dir, 'tmp', randomUUID());
    const hash = createHash('sha256');
    let length = 0;
    try {
      await pipeline(
        body,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            length += chunk.length;
            if (length > maxBytes) throw new FairpatchError('PAYLOAD_TOO_LARGE', `artifact exceeds ${maxBytes} bytes`);
            hash.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(tmp, { mode: 0o600, flush: true }),
      );
      const actual = hash.digest('hex');
      if (actual !== sha256) throw new FairpatchError('HASH_MISMATCH', `artifact hashes to ${actual}, not ${sha256}`);
      privateDir(join(this.dir, sha256.slice(0, 2)));
      renameSync(tmp, this.path(sha256));
      return length;
    } finally {
      rmSync(tmp, { force: true });
    }
  }

  open(sha256: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.path(sha256), range);
  }

  size(sha256: string): number {
    return statSync(this.path(sha256)).size;
  }
}
