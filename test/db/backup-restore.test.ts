import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type FairpatchNode, createNode } from '../../src/server/node.js';
import { DIALECTS, freshDatabase } from '../helpers/dialects.js';
import { NO_RATE_LIMITS, SECOND, createFixture } from '../helpers/repo.js';

// docs/operations.md's backup and restore, as written there: an online backup of a node in use
// (SQLite's .backup, then the blob directory; pg_dump), restored into a new place, and the restored
// node serves the same bytes as the one backed up.

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** What a client can fetch, by path, as bytes: metadata, the log's checkpoint and an artifact. */
async function served(node: FairpatchNode, artifact: string): Promise<Record<string, string>> {
  const get = async (path: string) => {
    const response = await node.app.request(path);
    expect(response.status, path).toBe(200);
    return Buffer.from(await response.arrayBuffer()).toString('base64');
  };
  const timestamp = JSON.parse(
    Buffer.from(await get('/metadata/timestamp.json'), 'base64').toString('utf8'),
  ) as { signed: { meta: Record<string, { version: number }> } };
  const snapshotVersion = timestamp.signed.meta['snapshot.json']!.version;
  const snapshot = JSON.parse(
    Buffer.from(await get(`/metadata/${snapshotVersion}.snapshot.json`), 'base64').toString('utf8'),
  ) as { signed: { meta: Record<string, { version: number }> } };
  const out: Record<string, string> = {
    timestamp: await get('/metadata/timestamp.json'),
    snapshot: await get(`/metadata/${snapshotVersion}.snapshot.json`),
    checkpoint: await get('/log/checkpoint'),
    artifact: await get(artifact),
  };
  for (const [file, { version }] of Object.entries(snapshot.signed.meta)) {
    const path = `/metadata/${version}.${file}`;
    out[path] = await get(path);
  }
  return out;
}

describe.each(DIALECTS)('%s', (dialect) => {
  it('a node restored from an online backup serves the same bytes', async () => {
    const databaseUrl = await freshDatabase(dialect);
    const fx = await createFixture(databaseUrl ? { databaseUrl } : {});
    cleanup.push(() => fx.close());
    await fx.addVendor('acme');
    await fx.node.appDeps.declareGroups!(['eu-west']);
    const artifact = await fx.artifact('agent.sh', '#!/bin/sh\necho fixed\n');
    const releaseAt = fx.clock.now() + 30 * SECOND;
    await fx.stage('acme', {}, [artifact], releaseAt);
    for (let t = fx.clock.now(); t <= releaseAt + 2 * SECOND; t += SECOND) {
      fx.clock.set(t);
      await fx.node.evidence.activations();
    }
    await fx.node.sequencer.idle();
    const targetPath = `/targets/acme/${artifact.sha256}.agent.sh`;
    const before = await served(fx.node, targetPath);

    // The backup, taken while the node is open (docs/operations.md, "Backup").
    const backup = mkdtempSync(join(tmpdir(), 'fairpatch-backup-'));
    const restoredData = mkdtempSync(join(tmpdir(), 'fairpatch-restored-'));
    let restoredUrl: string | undefined;
    if (dialect === 'sqlite') {
      execFileSync('sqlite3', [
        join(fx.dir, 'data', 'fairpatch.sqlite'),
        `.backup '${join(backup, 'fairpatch.sqlite')}'`,
      ]);
      cpSync(join(fx.dir, 'data', 'blobs'), join(backup, 'blobs'), { recursive: true });
      // Restore: the files back into a data directory.
      cpSync(backup, restoredData, { recursive: true });
    } else {
      execFileSync('pg_dump', [
        '--format=custom',
        '--file',
        join(backup, 'fairpatch.dump'),
        databaseUrl!,
      ]);
      const target = (await freshDatabase('postgres'))!;
      restoredUrl = target;
      execFileSync('pg_restore', [
        '--no-owner',
        '--dbname',
        target,
        join(backup, 'fairpatch.dump'),
      ]);
    }

    const restored = await createNode({
      dataDir: restoredData,
      keysDir: fx.keysDir,
      clock: fx.clock,
      ...NO_RATE_LIMITS,
      ...(restoredUrl ? { databaseUrl: restoredUrl } : {}),
    });
    cleanup.push(() => restored.close());
    expect(await served(restored, targetPath)).toEqual(before);
  });
});
