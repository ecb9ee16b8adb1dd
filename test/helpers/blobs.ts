import { writeFileSync } from 'node:fs';
import { FileBlobStore } from '../../src/storage/file-blobs.js';
import type { FairpatchNode } from '../../src/server/node.js';

/** An attacker with write access to the node's storage replaces an artifact's bytes (same length), wherever they live. */
export async function tamperBlob(
  node: FairpatchNode,
  sha256: string,
  content: string,
): Promise<void> {
  if (node.blobs instanceof FileBlobStore) return writeFileSync(node.blobs.path(sha256), content);
  await node.db.deleteFrom('blob_chunks').where('sha256', '=', sha256).execute();
  await node.db
    .insertInto('blob_chunks')
    .values({ sha256, idx: 0, data: Buffer.from(content) })
    .execute();
}
