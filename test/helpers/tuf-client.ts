import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Updater } from 'tuf-js';

/** A stock tuf-js client for one group, with its own trusted metadata and target directories. */
export function tufClient(
  base: string,
  group: string,
  rootPath: string,
): { updater: () => Updater; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fairpatch-tuf-'));
  mkdirSync(join(dir, 'metadata'));
  mkdirSync(join(dir, 'targets'));
  copyFileSync(rootPath, join(dir, 'metadata', 'root.json'));
  // A new Updater per refresh, as a real agent's process would: trust state lives on disk.
  const updater = () =>
    new Updater({
      metadataDir: join(dir, 'metadata'),
      metadataBaseUrl: `${base}/g/${group}/metadata`,
      targetDir: join(dir, 'targets'),
      targetBaseUrl: `${base}/g/${group}/targets`,
      config: { fetchTimeout: 5000, fetchRetries: 0 },
    });
  return { updater, dir };
}
