import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBlobStore } from '../../src/storage/file-blobs.js';
import { hashFile } from '../../src/publish/client.js';

export interface PublishResult {
  megabytes: number;
  hashMBps: number;
  storeMBps: number;
  hashAndStoreMBps: number;
}

/** Hashing (what `fairpatch publish` does first) and storing (what the server does) a 200 MB artifact. */
export async function publishBenchmark(megabytes = 200): Promise<PublishResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-publish-'));
  try {
    const file = join(dir, 'artifact.bin');
    const chunk = randomBytes(1024 * 1024);
    writeFileSync(file, Buffer.concat(Array.from({ length: megabytes }, () => chunk)));
    let t0 = performance.now();
    const { sha256, length } = await hashFile(file);
    const hashS = (performance.now() - t0) / 1000;
    const blobs = new FileBlobStore(join(dir, 'blobs'));
    t0 = performance.now();
    await blobs.put(sha256, createReadStream(file), length + 1);
    const storeS = (performance.now() - t0) / 1000;
    return {
      megabytes,
      hashMBps: megabytes / hashS,
      storeMBps: megabytes / storeS,
      hashAndStoreMBps: megabytes / (hashS + storeS),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
