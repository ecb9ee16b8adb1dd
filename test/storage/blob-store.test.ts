import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/db/connect.js';
import type { Db } from '../../src/db/schema.js';
import { FairpatchError } from '../../src/errors.js';
import type { BlobStore } from '../../src/storage/blobs.js';
import { DatabaseBlobStore } from '../../src/storage/database-blobs.js';
import { FileBlobStore } from '../../src/storage/file-blobs.js';
import { NODE_DEFAULTS } from '../../src/server/config.js';
import { importLocalBlobs } from '../../src/storage/import-blobs.js';
import { freshDatabase } from '../helpers/dialects.js';

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const read = async (stream: Readable): Promise<Buffer> => {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
};
/** A body that arrives in uneven pieces, as HTTP delivers it. */
const body = (bytes: Buffer, piece = 5): Readable =>
  Readable.from(
    Array.from({ length: Math.ceil(bytes.length / piece) }, (_, i) =>
      bytes.subarray(i * piece, (i + 1) * piece),
    ),
  );
const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'ACCEPTED',
    (e: unknown) => (e instanceof FairpatchError ? e.code : (e as Error).message),
  );

let dir: string;
let db: Db;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fairpatch-blobs-'));
  db = await connect({
    url: (await freshDatabase('postgres'))!,
    connectTimeoutMs: NODE_DEFAULTS.databaseConnectTimeoutMs,
    poolSize: NODE_DEFAULTS.databasePoolSize,
    statementTimeoutMs: NODE_DEFAULTS.databaseStatementTimeoutMs,
  });
});
afterAll(async () => {
  await db.destroy();
  rmSync(dir, { recursive: true, force: true });
});

// Chunks of 7 bytes: every range below crosses chunk boundaries in every way it can.
const stores: Array<[string, () => BlobStore]> = [
  ['files', () => new FileBlobStore(join(dir, `files-${randomBytes(4).toString('hex')}`))],
  ['PostgreSQL chunks', () => new DatabaseBlobStore(db, 7)],
];

describe.each(stores)('blob store: %s', (_name, make) => {
  const bytes = randomBytes(100);
  const sha256 = sha(bytes);
  let store: BlobStore;
  beforeAll(async () => {
    store = make();
    expect(await store.put(sha256, body(bytes), 1000)).toBe(100);
  });

  it('streams the whole blob and any byte range', async () => {
    expect(await store.size(sha256)).toBe(100);
    expect((await read(store.open(sha256))).equals(bytes)).toBe(true);
    for (const [start, end] of [
      [0, 0],
      [0, 6],
      [6, 7],
      [7, 13],
      [3, 50],
      [13, 14],
      [98, 99],
      [0, 99],
      [42, 42],
    ] as const) {
      expect(
        (await read(store.open(sha256, { start, end }))).equals(bytes.subarray(start, end + 1)),
        `${start}-${end}`,
      ).toBe(true);
    }
  });

  it('stores the empty blob, and the same bytes twice at once', async () => {
    const empty = Buffer.alloc(0);
    expect(await store.put(sha(empty), body(empty), 10)).toBe(0);
    expect((await read(store.open(sha(empty)))).length).toBe(0);
    const again = randomBytes(30);
    expect(
      await Promise.all([
        store.put(sha(again), body(again), 100),
        store.put(sha(again), body(again), 100),
      ]),
    ).toEqual([30, 30]);
    expect((await read(store.open(sha(again)))).equals(again)).toBe(true);
  });

  it('never shows a mislabelled, oversized or interrupted upload', async () => {
    const other = randomBytes(40);
    expect(await codeOf(store.put(sha(randomBytes(8)), body(other), 100))).toBe('HASH_MISMATCH');
    expect(await codeOf(store.put(sha(other), body(other), 39))).toBe('PAYLOAD_TOO_LARGE');
    const broken = Readable.from(
      (async function* () {
        yield other.subarray(0, 20);
        throw new Error('client went away');
      })(),
    );
    expect(await codeOf(store.put(sha(other), broken, 100))).toBe('client went away');
    expect(await store.has(sha(other))).toBe(false);
    expect(await store.size(sha(other))).toBeUndefined();
    expect(await store.sweep()).toBe(0); // nothing half-written is left behind
  });
});

describe('leftovers are removed at start', () => {
  it('files: temporary files of a process that is gone', async () => {
    const store = new FileBlobStore(join(dir, 'sweep'));
    // pid 2^22+1 is above Linux's pid_max: no such process.
    writeFileSync(join(dir, 'sweep', 'tmp', `${2 ** 22 + 1}.half-written`), 'partial');
    writeFileSync(join(dir, 'sweep', 'tmp', 'garbage'), 'partial');
    expect(await store.sweep()).toBe(2);
    expect(readdirSync(join(dir, 'sweep', 'tmp'))).toEqual([]);
  });

  it('PostgreSQL: chunks without a complete blob', async () => {
    const store = new DatabaseBlobStore(db, 7);
    const orphan = sha(Buffer.from('orphan'));
    await db
      .insertInto('blob_chunks')
      .values({ sha256: orphan, idx: 0, data: Buffer.from('orphan') })
      .execute();
    const kept = randomBytes(20);
    await store.put(sha(kept), body(kept), 100);
    expect(await store.sweep()).toBe(1);
    expect(
      await db.selectFrom('blob_chunks').select('sha256').where('sha256', '=', orphan).execute(),
    ).toEqual([]);
    expect((await read(store.open(sha(kept)))).equals(kept)).toBe(true);
  });
});

describe('artifacts stored as files before they moved into PostgreSQL', () => {
  it('are copied into the database at start, hash-checked', async () => {
    const files = new FileBlobStore(join(dir, 'legacy'));
    const bytes = randomBytes(50);
    await files.put(sha(bytes), body(bytes), 100);
    const unknown = randomBytes(10); // stored, but the repository never recorded it: left alone
    await files.put(sha(unknown), body(unknown), 100);
    await db
      .insertInto('blobs')
      .values({ sha256: sha(bytes), length: 50, created_at: 0 })
      .execute();
    const store = new DatabaseBlobStore(db, 7);
    expect(await importLocalBlobs(db, store, join(dir, 'legacy'))).toBe(1);
    expect((await read(store.open(sha(bytes)))).equals(bytes)).toBe(true);
    expect(await store.has(sha(unknown))).toBe(false);
    expect(await importLocalBlobs(db, store, join(dir, 'legacy'))).toBe(0);
  });
});
