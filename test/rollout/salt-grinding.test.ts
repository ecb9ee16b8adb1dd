import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type AuditOutcome, runAudit } from '../../src/audit/run.js';
import { parseCheckpoint } from '../../src/log/checkpoint.js';
import { verifiedCosigners } from '../../src/log/cosignature.js';
import { parseVerifierKey } from '../../src/log/note.js';
import type { FairpatchNode } from '../../src/server/node.js';
import { type Fixture, MINUTE, createFixture, listen, readRoot } from '../helpers/repo.js';
import { until } from '../helpers/until.js';
import { type WitnessFixture, startWitness } from '../helpers/witness.js';

// A staged release's salt is the witnesses' cosignatures on the first checkpoint holding its
// activation. An operator that has that checkpoint cosigned, dislikes the salt, keeps the
// cosignature to itself, appends and serves a later one gets another draw. The witness logs each
// checkpoint it cosigns before answering, and the auditor holds the salt against that history.

const TARGET = 'acme/acme-agent-2.4.1.sh';

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** A fixture, one witness following its log, and a staged release of acme a minute from now. */
async function setUp(): Promise<{ fx: Fixture; w: WitnessFixture; releaseAt: number }> {
  const fx = await createFixture();
  cleanup.push(() => fx.close());
  const w = await startWitness(fx.keysDir, fx.clock, {
    logs: [{ url: 'unused', verifier: parseVerifierKey(fx.node.logVerifierKey) }],
  });
  cleanup.push(() => w.close());
  await fx.addVendor('acme');
  const artifact = await fx.artifact('acme-agent-2.4.1.sh', '#!/bin/sh\necho patched\n');
  const releaseAt = fx.clock.now() + MINUTE;
  await fx.node.repo.stageVendorMetadata(
    'acme',
    await fx.release(
      'acme',
      {
        rollout: {
          stages: [
            { percent: 10, after: '0s' },
            { percent: 100, after: '1h' },
          ],
        },
      },
      [artifact],
      releaseAt,
    ),
  );
  return { fx, w, releaseAt };
}

/** A C2SP add-checkpoint exchange, as the log's operator makes it. */
async function askWitness(w: WitnessFixture, node: FairpatchNode, old: number): Promise<string> {
  const note = (await node.log.checkpoint())!;
  const { size } = parseCheckpoint(note.slice(0, note.lastIndexOf('\n\n') + 1));
  const proof = old > 0 ? await node.log.consistencyProof(old, size) : [];
  const body = `old ${old}\n${proof.map((p) => `${Buffer.from(p).toString('base64')}\n`).join('')}\n${note}`;
  const response = await fetch(`${w.url}/add-checkpoint`, { method: 'POST', body });
  expect(response.status).toBe(200);
  return response.text();
}

async function audit(
  fx: Fixture,
  server: string,
  w: WitnessFixture,
  witnessLogs = [{ url: w.url, vkey: w.witness.verifierKey }],
): Promise<AuditOutcome> {
  return runAudit({
    server,
    stateDir: mkdtempSync(join(tmpdir(), 'fp-salt-grinding-audit-')),
    logKey: fx.node.logVerifierKey,
    root: readRoot(fx.keysDir),
    now: fx.clock.now(),
    cosigners: { keys: [w.witness.verifierKey], threshold: 1 },
    witnessLogs,
  });
}

const saltFindings = (outcome: AuditOutcome) =>
  outcome.report!.findings.filter((f) => f.kind.startsWith('rollout-salt'));

describe('a staged release salt against the witnesses cosigning history', () => {
  it('honest: the salt is the first cosigned checkpoint the witness logged; no salt finding', async () => {
    const { fx, w, releaseAt } = await setUp();
    const node = await fx.openNode({ witnesses: [w.url] });
    const http = await listen(node.app);
    cleanup.push(() => http.close());
    fx.clock.set(releaseAt);
    await node.evidence.activations();
    await until('a checkpoint holding the activation is cosigned', async () => {
      const r = await node.app.request(`/log/rollout-salt?target=${encodeURIComponent(TARGET)}`);
      if (r.status !== 200) return undefined;
      const body = (await r.json()) as { checkpoints: Array<{ note: string }> };
      return body.checkpoints.some((c) => c.note.includes('\u2014 witness/')) ? true : undefined;
    });
    const outcome = await audit(fx, http.url, w);
    expect(outcome.report, outcome.error).toBeDefined();
    expect(saltFindings(outcome)).toEqual([]);
    expect(outcome.report!.verdict).not.toBe('UNFAIR');

    // The witness's log not given, or not readable: the salt is unverified, never FAIR.
    const unpinned = await audit(fx, http.url, w, []);
    expect(saltFindings(unpinned).map((f) => [f.kind, f.class])).toEqual([
      ['rollout-salt-unverified', 'cannot-verify'],
    ]);
    expect(unpinned.report!.verdict).not.toBe('FAIR');
    const away = await audit(fx, http.url, w, [
      { url: 'http://127.0.0.1:1', vkey: w.witness.verifierKey },
    ]);
    expect(saltFindings(away)).toMatchObject([
      { kind: 'rollout-salt-unverified', message: expect.stringMatching(/could not be read/) },
    ]);
    expect(away.report!.verdict).not.toBe('FAIR');
  });

  it('an operator that hides the cosigned first checkpoint and serves a later one is UNFAIR, with proof', async () => {
    const { fx, w, releaseAt } = await setUp();
    const node = fx.node; // no witnesses configured: the operator asks them itself, below
    const http = await listen(node.app);
    cleanup.push(() => http.close());
    fx.clock.set(releaseAt);
    await node.evidence.activations();
    await node.sequencer.idle();
    // The first checkpoint holding the activation, cosigned: a salt the operator sees and hides.
    const first = (await node.log.checkpoint())!;
    const firstSize = Number(first.split('\n')[1]);
    const hidden = await askWitness(w, node, 0);
    // More leaves, and the later checkpoint cosigned and served: another draw.
    await fx.addVendor('other');
    await node.sequencer.idle();
    const { size: laterSize } = await node.log.head();
    expect(laterSize).toBeGreaterThan(firstSize);
    await node.log.addCosignatures(laterSize, await askWitness(w, node, firstSize));

    const outcome = await audit(fx, http.url, w);
    expect(outcome.report, outcome.error).toBeDefined();
    const withheld = saltFindings(outcome);
    expect(withheld).toMatchObject([
      { kind: 'rollout-salt-withheld', class: 'proof', unfair: true },
    ]);
    expect(outcome.report!.verdict).toBe('UNFAIR');
    // The proof: the very bytes the log signed, and the cosignature it asked for and hid.
    const evidence = withheld[0]!.evidence as {
      salt_checkpoint_size: number;
      withheld: Array<{ checkpoint: string; cosignature: string }>;
    };
    expect(evidence.salt_checkpoint_size).toBe(laterSize);
    expect(evidence.withheld).toHaveLength(1);
    expect(evidence.withheld[0]!.checkpoint).toBe(first);
    expect(evidence.withheld[0]!.cosignature).toBe(hidden.trimEnd());
    const text = first.slice(0, first.lastIndexOf('\n\n') + 1);
    expect(
      verifiedCosigners(`${text}\n${evidence.withheld[0]!.cosignature}\n`, [
        parseVerifierKey(w.witness.verifierKey),
      ]).map((c) => c.name),
    ).toEqual(['witness/w1']);
  });
});
