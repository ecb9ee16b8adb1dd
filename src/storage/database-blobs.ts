import { Readable } from 'node:stream';
import PQueue from 'p-queue';
import { isUniqueViolation } from '../db/errors.js';
import type { Db } from '../db/schema.js';
import { FairpatchError } from '../errors.js';
import { type BlobStore, type ByteRange, verifier } from './blobs.js';

interface Contents {
  length: number;
  chunkSize: number;
}

/**
 * Artifact bytes in the database, in fixed-size chunks, so every node over it serves every artifact
 * (PostgreSQL). An upload is one transaction: its chunks and the `blob_contents` row that makes the
 * blob exist are committed together, only after the bytes hashed to their name. A node that dies
 * mid-upload leaves nothing: the database rolls the transaction back.
 */
export class DatabaseBlobStore implements BlobStore {
  readonly location = 'the database (table blob_chunks)';
  /** Complete blobs never change: their length and chunk size are remembered once read. */
  private readonly known = new Map<string, Contents>();
  /** Each upload holds one pooled connection for its whole transaction: a few at a time leave the rest for everything else. */
  private readonly uploads = new PQueue({ concurrency: 3 });

  constructor(
    private readonly db: Db,
    /** Bytes per chunk (setting blobChunkBytes, src/server/config.ts). */
    private readonly chunkBytes: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Uploads of the same bytes on this node, one after the other: the second then finds them stored. */
  private readonly writing = new Map<string, Promise<unknown>>();

  async put(sha256: string, body: Readable, maxBytes: number): Promise<number> {
    const before = this.writing.get(sha256) ?? Promise.resolve();
    const mine = before
      .catch(() => undefined)
      .then(() => this.uploads.add(() => this.write(sha256, body, maxBytes)));
    this.writing.set(sha256, mine);
    try {
      return (await mine) as number;
    } finally {
      if (this.writing.get(sha256) === mine) this.writing.delete(sha256);
    }
  }

  private async write(sha256: string, body: Readable, maxBytes: number): Promise<number> {
    const check = verifier(sha256, maxBytes);
    if ((await this.size(sha256)) !== undefined) {
      // Already stored (by another vendor, or through another node): every byte is still read and
      // checked, so the answer tells nothing that knowing a hash alone could learn.
      for await (const piece of body) check.pass(Buffer.from(piece as Uint8Array));
      return check.verify();
    }
    const size = this.chunkBytes;
    try {
      return await this.db.transaction().execute(async (trx) => {
        let idx = 0;
        let parts: Buffer[] = [];
        let buffered = 0;
        const insert = (data: Buffer) =>
          trx.insertInto('blob_chunks').values({ sha256, idx: idx++, data }).execute();
        for await (const piece of body) {
          parts.push(check.pass(Buffer.from(piece as Uint8Array)));
          buffered += (piece as Uint8Array).length;
          if (buffered < size) continue;
          let pending = Buffer.concat(parts);
          while (pending.length >= size) {
            await insert(pending.subarray(0, size));
            pending = pending.subarray(size);
          }
          parts = [pending];
          buffered = pending.length;
        }
        if (buffered > 0) await insert(Buffer.concat(parts));
        const length = check.verify();
        await trx
          .insertInto('blob_contents')
          .values({ sha256, length, chunk_size: size, created_at: this.now() })
          .execute();
        return length;
      });
    } catch (error) {
      // The same bytes were being stored by another upload at the same moment: this one cannot have
      // been checked to the end, so it is not acknowledged; a retry finds them stored and checks them.
      if (isUniqueViolation(error)) {
        body.destroy();
        throw new FairpatchError(
          'NOT_READY',
          'these bytes are being stored by another upload; retry',
          { details: { retryAfterSeconds: 1 } },
        );
      }
      throw error;
    }
  }

  private async contents(sha256: string): Promise<Contents | undefined> {
    const cached = this.known.get(sha256);
    if (cached) return cached;
    const row = await this.db
      .selectFrom('blob_contents')
      .select(['length', 'chunk_size'])
      .where('sha256', '=', sha256)
      .executeTakeFirst();
    if (!row) return undefined;
    const contents = { length: Number(row.length), chunkSize: Number(row.chunk_size) };
    this.known.set(sha256, contents);
    return contents;
  }

  async size(sha256: string): Promise<number | undefined> {
    return (await this.contents(sha256))?.length;
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.contents(sha256)) !== undefined;
  }

  /** Reads only the chunks the range covers, one at a time, as the consumer asks for them. */
  open(sha256: string, range?: ByteRange): Readable {
    const { db } = this;
    const contentsOf = (h: string) => this.contents(h);
    return Readable.from(
      (async function* () {
        const contents = await contentsOf(sha256);
        if (!contents) throw new FairpatchError('NOT_FOUND', `no blob ${sha256}`);
        if (contents.length === 0) return;
        const { chunkSize } = contents;
        const start = range?.start ?? 0;
        const end = Math.min(range?.end ?? contents.length - 1, contents.length - 1);
        for (let i = Math.floor(start / chunkSize); i <= Math.floor(end / chunkSize); i++) {
          const row = await db
            .selectFrom('blob_chunks')
            .select('data')
            .where('sha256', '=', sha256)
            .where('idx', '=', i)
            .executeTakeFirst();
          if (!row) throw new FairpatchError('INTERNAL', `blob ${sha256} lacks chunk ${i}`);
          const first = i * chunkSize;
          yield Buffer.from(row.data).subarray(
            Math.max(0, start - first),
            Math.min(chunkSize, end - first + 1),
          );
        }
      })(),
      { objectMode: false },
    );
  }

  /**
   * Chunks committed without their `blob_contents` row cannot come from an upload (both commit
   * together); they are removed should they exist. Uploads in flight elsewhere are untouched: their
   * rows are not visible outside their transaction.
   */
  async sweep(): Promise<number> {
    const result = await this.db
      .deleteFrom('blob_chunks')
      .where('sha256', 'not in', (eb) => eb.selectFrom('blob_contents').select('sha256'))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async checkWritable(): Promise<void> {
    // Writes go to the database; whether it can be reached is reported by the refresh loop.
  }
}
