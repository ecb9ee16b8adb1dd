import { existsSync } from 'node:fs';
import type { Db } from '../db/schema.js';
import type { BlobStore } from './blobs.js';
import { FileBlobStore } from './file-blobs.js';

/**
 * Artifacts a node stored as files before artifacts moved into PostgreSQL: those the repository
 * knows (`blobs`) but the database lacks are copied in at start, hash-checked like any upload, so
 * every node serves them. Nodes without the file leave them to the node that has it.
 */
export async function importLocalBlobs(db: Db, store: BlobStore, dir: string): Promise<number> {
  if (!existsSync(dir)) return 0;
  const local = new FileBlobStore(dir);
  const missing = await db
    .selectFrom('blobs')
    .select(['sha256', 'length'])
    .where('sha256', 'not in', (eb) => eb.selectFrom('blob_contents').select('sha256'))
    .execute();
  let imported = 0;
  for (const { sha256, length } of missing) {
    if ((await local.size(sha256)) !== Number(length)) continue;
    await store.put(sha256, local.open(sha256), Number(length));
    imported++;
  }
  return imported;
}
