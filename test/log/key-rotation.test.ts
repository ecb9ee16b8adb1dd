import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit/run.js';
import { rotateLogKey } from '../../src/keys/keygen.js';
import { verifierKey } from '../../src/log/note.js';
import { generateKeyPair } from '../../src/tuf/keys.js';
import type { FairpatchNode } from '../../src/server/node.js';
import { type Fixture, createFixture, listen, readRoot } from '../helpers/repo.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await createFixture();
  await fx.addVendor('acme');
  await fx.node.appDeps.declareGroups!(['eu-west']);
});
afterAll(() => fx.close());

async function auditThrough(node: FairpatchNode, stateDir: string, pinned: string) {
  // A poll and its roll-up: a new leaf, so a new checkpoint signed by this node's keys.
  await node.app.request('/g/eu-west/metadata/timestamp.json');
  expect(await node.evidence.rollup()).toBeDefined();
  await node.sequencer.idle();
  const http = await listen(node.app);
  try {
    const root = readRoot(fx.keysDir);
    const outcome = await runAudit({
      server: http.url,
      stateDir,
      logKey: pinned,
      root,
      now: fx.clock.now(),
    });
    const note = await (await fetch(`${http.url}/log/checkpoint`)).text();
    return { outcome, signatures: note.split('\n').filter((l) => l.startsWith('\u2014')).length };
  } finally {
    await http.close();
  }
}

describe('a log key rotation, announced in the log', () => {
  it('an auditor pinned to the old key follows to the new one without a manual step', async () => {
    const pinned = readFileSync(join(fx.keysDir, 'log.vkey'), 'utf8').trim();
    const auditor = mkdtempSync(join(tmpdir(), 'audit-rotation-'));
    expect((await auditThrough(fx.node, auditor, pinned)).outcome.exitCode).toBe(0);

    // Step 1: the next key; a node started with both announces it and co-signs.
    const { vkey: next } = rotateLogKey(fx.keysDir, 'begin');
    const during = await fx.openNode();
    const first = await auditThrough(during, auditor, pinned);
    expect(first.signatures).toBe(2);
    expect(first.outcome.error).toBeUndefined();
    expect(first.outcome.exitCode).toBe(0);
    expect(JSON.parse(readFileSync(join(auditor, 'log-keys.json'), 'utf8'))).toEqual([next]);

    // Step 2: the new key alone. The auditor, still pinned to the old key, carries on.
    rotateLogKey(fx.keysDir, 'promote');
    const after = await fx.openNode();
    const second = await auditThrough(after, auditor, pinned);
    expect(second.signatures).toBe(1);
    expect(second.outcome.error).toBeUndefined();
    expect(second.outcome.exitCode).toBe(0);

    // An auditor that never ran while both keys signed follows all the same, from the log's
    // /log/key-rotations: the announcement, proven under a checkpoint the old key signed.
    const late = mkdtempSync(join(tmpdir(), 'audit-late-'));
    const missed = await auditThrough(after, late, pinned);
    expect(missed.outcome.error).toBeUndefined();
    expect(missed.outcome.exitCode).toBe(0);
    expect(JSON.parse(readFileSync(join(late, 'log-keys.json'), 'utf8'))).toEqual([next]);

    // A key that is not this log's learns nothing from it: cannot verify (exit 2), never FAIR.
    const stranger = await auditThrough(
      after,
      mkdtempSync(join(tmpdir(), 'audit-stranger-')),
      verifierKey(pinned.split('+')[0]!, generateKeyPair().publicKey),
    );
    expect(stranger.outcome.exitCode).toBe(2);
  });
});
