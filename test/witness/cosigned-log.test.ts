import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit/run.js';
import { openCheckpoint } from '../../src/log/checkpoint.js';
import { verifiedCosigners } from '../../src/log/cosignature.js';
import { parseVerifierKey, verifierKey } from '../../src/log/note.js';
import { generateKeyPair } from '../../src/tuf/keys.js';
import { createFixture, listen } from '../helpers/repo.js';
import { readRoot, startWitness } from '../helpers/witness.js';
import { until } from '../helpers/until.js';

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** Reads until `check` passes (bounded): the node asks witnesses in the background. */
const eventually = <T>(read: () => Promise<T>, check: (value: T) => boolean, what: string) =>
  until(what, async () => {
    const value = await read();
    return check(value) ? { value } : undefined;
  }).then(({ value }) => value);

describe('a log node with witnesses (fairpatch serve --witness)', () => {
  it('serves checkpoints cosigned by the witness as the log grows; the auditor counts cosignatures against --witness-threshold', async () => {
    const fx = await createFixture();
    cleanup.push(() => fx.close());
    const logVerifier = parseVerifierKey(fx.node.logVerifierKey);
    const w = await startWitness(fx.keysDir, fx.clock, {
      logs: [{ url: 'unused', verifier: logVerifier }],
    });
    cleanup.push(() => w.close());
    const cosigner = parseVerifierKey(w.witness.verifierKey);

    const node = await fx.openNode({ witnesses: [w.url] });
    const served = async (): Promise<string> => (await node.app.request('/log/checkpoint')).text();
    const cosignedAt = (note: string) =>
      verifiedCosigners(note, [cosigner]).length === 1
        ? openCheckpoint(note, logVerifier).size
        : -1;
    const first = await eventually(served, (n) => cosignedAt(n) > 0, 'first checkpoint cosigned');
    const size = openCheckpoint(first, logVerifier).size;

    // The log grows: the node proves consistency from what the witness cosigned, and gets the new one cosigned.
    await node.appDeps.declareGroups!(['eu-west', 'us-east']);
    const grown = await eventually(
      served,
      (n) => cosignedAt(n) > size,
      'grown checkpoint cosigned',
    );
    // The witness recorded the log-signed checkpoint; the node serves it with the cosignature added.
    expect(grown.startsWith((await w.witness.checkpoints.latest(logVerifier.name))!)).toBe(true);
    // The log's own signature still verifies with only the log key pinned.
    expect(openCheckpoint(grown, logVerifier).size).toBeGreaterThan(size);

    const http = await listen(node.app);
    cleanup.push(() => http.close());
    const audit = (keys: string[], threshold: number) =>
      runAudit({
        server: http.url,
        stateDir: mkdtempSync(join(tmpdir(), 'fp-cosigned-')),
        logKey: fx.node.logVerifierKey,
        root: readRoot(fx.keysDir),
        now: fx.clock.now(),
        cosigners: { keys, threshold },
      });
    const witnessed = await audit([w.witness.verifierKey], 1);
    expect(witnessed.report!.findings.map((f) => f.kind)).not.toContain('checkpoint-unwitnessed');
    const stranger = verifierKey('witness/other', generateKeyPair().publicKey);
    const unwitnessed = await audit([stranger], 1);
    expect(unwitnessed.exitCode).toBe(2);
    expect(
      unwitnessed.report!.findings.find((f) => f.kind === 'checkpoint-unwitnessed')!.class,
    ).toBe('cannot-verify');
  });

  // A busy log signs a checkpoint every second; serving the newest handed auditors, most of the time,
  // one the witness had not cosigned yet (audit --witness-threshold 1: CANNOT_VERIFY, intermittently).
  it('serves the newest checkpoint the witness cosigned, not a newer one it has not cosigned yet', async () => {
    const fx = await createFixture();
    cleanup.push(() => fx.close());
    const logVerifier = parseVerifierKey(fx.node.logVerifierKey);
    const w = await startWitness(fx.keysDir, fx.clock, {
      logs: [{ url: 'unused', verifier: logVerifier }],
    });
    const cosigner = parseVerifierKey(w.witness.verifierKey);
    const node = await fx.openNode({ witnesses: [w.url] });
    const served = async (): Promise<string> => (await node.app.request('/log/checkpoint')).text();
    const first = await eventually(
      served,
      (n) => verifiedCosigners(n, [cosigner]).length === 1,
      'first checkpoint cosigned',
    );
    // The witness goes away; the log grows without it.
    await w.close();
    await node.appDeps.declareGroups!(['eu-west']);
    const newest = (await node.log.checkpoint())!;
    expect(openCheckpoint(newest, logVerifier).size).toBeGreaterThan(
      openCheckpoint(first, logVerifier).size,
    );
    const now = await served();
    expect(openCheckpoint(now, logVerifier).size).toBe(openCheckpoint(first, logVerifier).size);
    expect(verifiedCosigners(now, [cosigner])).toHaveLength(1);
  });
});
