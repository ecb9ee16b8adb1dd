import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { privateDir } from '../common/files.js';
import { readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FairpatchError } from '../errors.js';
import { type BlobStore, type ByteRange, verifier } from './blobs.js';

/** Leftovers older than this are removed even if their process id is in use again. */
const STALE_MS = 24 * 60 * 60 * 1000;

const storageError = (what: string, error: unknown): FairpatchError =>
  new FairpatchError('STORAGE_UNAVAILABLE', `${what}: ${(error as Error).message}`, {
    cause: error,
  });

/** Content-addressed artifact files under `<data>/blobs/ab/cdef…`; one node's own storage (SQLite). */
export class FileBlobStore implements BlobStore {
  readonly location: string;

  constructor(private readonly dir: string) {
    this.location = dir;
    try {
      // Pending artifacts are embargoed fixes: owner-only, like the database.
      privateDir(dir);
      privateDir(join(dir, 'tmp'));
    } catch (error) {
      throw storageError(`cannot create blob directory ${join(dir, 'tmp')}`, error);
    }
  }

  path(sha256: string): string {
    return join(this.dir, sha256.slice(0, 2), sha256.slice(2));
  }

  async size(sha256: string): Promise<number | undefined> {
    try {
      return (await stat(this.path(sha256))).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw storageError(`cannot read ${this.path(sha256)}`, error);
    }
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.size(sha256)) !== undefined;
  }

  /**
   * Streams `body` to a temporary file while hashing it, and moves it into place only if its hash
   * is `sha256` and it fits in `maxBytes`: a half-written or mislabelled blob is never visible. The
   * temporary name starts with this process's id, so a restarted node knows whose leftovers it finds.
   */
  async put(sha256: string, body: Readable, maxBytes: number): Promise<number> {
    const tmp = join(this.dir, 'tmp', `${process.pid}.${randomUUID()}`);
    const check = verifier(sha256, maxBytes);
    const out = createWriteStream(tmp, { mode: 0o600, flush: true });
    try {
      await pipeline(
        body,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) yield check.pass(chunk);
        },
        out,
      );
      const length = check.verify();
      privateDir(join(this.dir, sha256.slice(0, 2)));
      await rename(tmp, this.path(sha256));
      return length;
    } catch (error) {
      if (error instanceof FairpatchError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      // A local file-system failure is ours; a client that hung up is not.
      if (
        code === 'EACCES' ||
        code === 'ENOSPC' ||
        code === 'ENOTDIR' ||
        code === 'EROFS' ||
        code === 'EPERM' ||
        code === 'ENOENT'
      )
        throw storageError(`cannot store blob in ${this.dir}`, error);
      throw error;
    } finally {
      // A stream destroyed while still opening creates its file afterwards: wait for it before removing.
      if (!out.closed) await once(out, 'close').catch(() => {});
      await rm(tmp, { force: true }).catch(() => {});
    }
  }

  open(sha256: string, range?: ByteRange): Readable {
    return createReadStream(this.path(sha256), range);
  }

  /** Removes temporary files of processes that are gone (crashed mid-upload), or that are very old. */
  async sweep(now = Date.now()): Promise<number> {
    const tmpDir = join(this.dir, 'tmp');
    let removed = 0;
    for (const name of await readdir(tmpDir)) {
      const pid = Number(name.split('.')[0]);
      const file = join(tmpDir, name);
      const old = await stat(file).then(
        (s) => now - s.mtimeMs > STALE_MS,
        () => true,
      );
      if (old || !Number.isSafeInteger(pid) || pid === process.pid || !alive(pid)) {
        await rm(file, { force: true, recursive: true });
        removed++;
      }
    }
    return removed;
  }

  async checkWritable(): Promise<void> {
    const probe = join(this.dir, 'tmp', `${process.pid}.probe`);
    try {
      await writeFile(probe, '');
      await rm(probe, { force: true });
    } catch (error) {
      throw storageError(`blob storage ${this.dir} is not writable`, error);
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
