import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { rollupAdmissions } from '../../src/audit/proof.js';
import { runAudit } from '../../src/audit/run.js';
import { tickAt } from '../../src/common/tick.js';
import { type LeafOf, leafBytes, parseLeaf } from '../../src/log/leaves.js';
import { canonicalBytes } from '../../src/common/canonical.js';
import { generateKeyPair, sign } from '../../src/tuf/keys.js';
import { freshAgentReceipt } from '../helpers/receipts.js';
import { type Fixture, SECOND, createFixture, listen, readRoot } from '../helpers/repo.js';
import { digestOf } from '../../src/audit/digest/log-digest.js';
import { postReceipts, startWitness } from '../helpers/witness.js';

// A client with one fresh agent key, one request: the real timestamp of a tick, and the same statement
// dressed up as a second document. Before the strict check, the node logged the pair, a witness took
// it, and `fairpatch audit` reported UNFAIR (proof) equivocation against an honest operator.

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

type Envelope = { signed: Record<string, unknown>; signatures: Array<Record<string, string>> };

const dressedUp: Array<[string, (e: Envelope) => void]> = [
  ['a junk signature', (e) => e.signatures.push({ keyid: 'a'.repeat(64), sig: 'b'.repeat(128) })],
  ['a duplicated signature', (e) => e.signatures.push({ ...e.signatures[0]! })],
  [
    'a valid signature by a key no root names',
    (e) => e.signatures.push({ ...sign(generateKeyPair(), canonicalBytes(e.signed)) }),
  ],
  ['an extra top-level field', (e) => Object.assign(e, { served_by: 'edge-7' })],
];

describe('a repackaged timestamp is no proof of anything', () => {
  it.each(dressedUp)(
    'the node and a witness refuse the real timestamp paired with itself plus %s; the audit finds no equivocation',
    async (_what, change) => {
      const fx = await createFixture();
      cleanup.push(() => fx.close());
      const node = await listen(fx.node.app);
      cleanup.push(() => node.close());
      const witness = await startWitness(fx.keysDir, fx.clock);
      cleanup.push(() => witness.close());

      const real = (await (
        await fetch(`${node.url}/g/eu/metadata/timestamp.json`)
      ).json()) as Envelope;
      const padded = structuredClone(real);
      change(padded);
      const honest = freshAgentReceipt('eu', real);
      const forged = freshAgentReceipt('us', padded);
      const pair = {
        documents: {
          [honest.receipt.observation.document]: real,
          [forged.receipt.observation.document]: padded,
        },
        receipts: [honest.receipt, forged.receipt],
      };

      for (const url of [`${node.url}/api/v1`, witness.url]) {
        const refused = await postReceipts(url, pair);
        expect(refused.status, url).toBe(400);
        expect(refused.body.error.code).toBe('RECEIPT_INVALID');
        // The real document alone is taken: the refusal is of the dressed-up one.
        expect((await postReceipts(url, JSON.parse(honest.body))).status, url).toBe(201);
      }

      // An agent's export (`--receipts FILE`) carrying the pair reaches the auditor without any intake.
      const outcome = await runAudit({
        server: node.url,
        stateDir: mkdtempSync(join(tmpdir(), 'fairpatch-audit-')),
        logKey: fx.node.logVerifierKey,
        root: readRoot(fx.keysDir),
        now: fx.clock.now(),
        external: [{ source: 'export.json', ...pair }],
      });
      expect(outcome.error).toBeUndefined();
      expect(outcome.report!.findings.filter((f) => f.class === 'proof')).toEqual([]);
      expect(outcome.report!.verdict).not.toBe('UNFAIR');
      expect(
        outcome.report!.findings.some(
          (f) => f.kind === 'receipt-unverifiable' && f.evidence.where === 'export.json',
        ),
      ).toBe(true);
    },
  );
});

describe('log-inconsistent rests on the two signed checkpoints and the served leaves', () => {
  /** The node behind a middlebox that answers consistency proofs as `proof` says; audits through it. */
  async function throughMiddlebox(proof: (fx: Fixture) => Response | undefined) {
    const fx = await createFixture();
    cleanup.push(() => fx.close());
    const app = new Hono();
    app.get('/log/proof/consistency', (c) => proof(fx) ?? fx.node.app.fetch(c.req.raw));
    app.all('*', (c) => fx.node.app.fetch(c.req.raw));
    const http = await listen(app);
    cleanup.push(() => http.close());
    const stateDir = mkdtempSync(join(tmpdir(), 'fairpatch-audit-'));
    const audit = () =>
      runAudit({
        server: http.url,
        stateDir,
        logKey: fx.node.logVerifierKey,
        root: readRoot(fx.keysDir),
        now: fx.clock.now(),
      });
    expect((await audit()).error).toBeUndefined();
    // The log grows: a poll and its roll-up.
    await fx.node.app.request('/g/eu/metadata/timestamp.json');
    await fx.node.evidence.rollup();
    await fx.node.sequencer.idle();
    return { fx, audit };
  }

  it.each([
    ['an error page', () => new Response('bad gateway', { status: 502 })],
    ['a mangled proof', () => Response.json({ proof: ['00'.repeat(32)] })],
  ])('a middlebox answering consistency proofs with %s convicts nobody', async (_what, answer) => {
    const { audit } = await throughMiddlebox(answer);
    const outcome = await audit();
    expect(outcome.error).toBeUndefined();
    expect(outcome.report!.findings.filter((f) => f.kind === 'log-inconsistent')).toEqual([]);
  });

  it('a log rewritten behind the saved checkpoint is still proof, whatever proof the server offers', async () => {
    const { fx, audit } = await throughMiddlebox(() => new Response('no', { status: 500 }));
    for (const table of ['log_leaves', 'log_nodes', 'log_checkpoints', 'log_head'] as const)
      await fx.node.db.deleteFrom(table).execute();
    const { epochMs, tickMs } = fx.node.repo.config;
    for (let i = 0; i < 20; i++)
      await fx.node.sequencer.append({
        dedupe: `forged:${i}`,
        data: leafBytes({
          type: 'repository.created',
          v: 1,
          epoch_ms: epochMs,
          tick_ms: tickMs,
          freshness_ms: 1000 + i,
          root_sha256: '0'.repeat(64),
        }),
      });
    const outcome = await audit();
    expect(outcome.exitCode).toBe(1);
    const rewritten = outcome.report!.findings.find((f) => f.kind === 'log-inconsistent');
    expect(rewritten?.evidence.reason).toMatch(/^the first \d+ leaves of the served log hash to /);
    expect(rewritten?.evidence.served_checkpoint).toMatch(/^fairpatch\.dev\/log\n20\n/);
  });
});

describe("a node's roll-up admits only what it served", () => {
  it('no client request after the tick (an old versioned snapshot, a conditional poll with the old ETag) lands an old snapshot after the activation', async () => {
    const fx = await createFixture();
    cleanup.push(() => fx.close());
    await fx.addVendor('acme');
    const http = await listen(fx.node.app);
    cleanup.push(() => http.close());
    const releaseAt = fx.clock.now() + 30 * SECOND;
    await fx.stage('acme', {}, [await fx.artifact('agent.sh', 'fix')], releaseAt);
    const before = await fetch(`${http.url}/g/eu/metadata/timestamp.json`);
    const oldEtag = before.headers.get('etag') ?? '';
    const old = ((await before.json()) as { signed: { meta: Record<string, { version: number }> } })
      .signed.meta['snapshot.json']!.version;
    await fx.node.evidence.rollup();
    for (let t = fx.clock.now(); t <= releaseAt + 2 * SECOND; t += SECOND) {
      fx.clock.set(t);
      await fx.node.evidence.activations();
    }
    // After the tick: everything a client can ask for that names the old state.
    for (const [path, headers] of [
      [`/g/eu/metadata/${old}.snapshot.json`, {}],
      ['/g/eu/metadata/timestamp.json', { 'if-none-match': oldEtag }],
      ['/g/eu/metadata/timestamp.json', {}],
      [`/g/eu/metadata/1.acme.json`, {}],
    ] as const)
      await fetch(`${http.url}${path}`, { headers });
    await fx.node.evidence.rollup();
    await fx.node.sequencer.idle();

    const outcome = await runAudit({
      server: http.url,
      stateDir: mkdtempSync(join(tmpdir(), 'fairpatch-audit-')),
      logKey: fx.node.logVerifierKey,
      root: readRoot(fx.keysDir),
      now: fx.clock.now(),
    });
    const release = outcome.report!.releases.find((r) => r.id === 'acme/2')!;
    expect(release.activation?.tick).toBe(tickAt(fx.node.repo.config, releaseAt));
    expect(outcome.report!.findings.filter((f) => f.kind === 'stale-after-activation')).toEqual([]);
    // The roll-up after the tick did count the polls, each under the snapshot it was answered with.
    const { size } = await fx.node.log.head();
    const rollups = (await fx.node.log.entries(0, size))
      .map((e) => ({ index: e.index, leaf: parseLeaf(Buffer.from(e.data, 'utf8')) }))
      .filter((e): e is { index: number; leaf: LeafOf<'delivery.rollup'> } => {
        return e.leaf.type === 'delivery.rollup';
      });
    expect(rollups.length).toBe(2);
    const after = rollups[1]!.leaf;
    expect(after.groups.eu?.polls).toBe(2);
    expect(Object.keys(after.groups.eu?.versions ?? {})).toEqual([
      String(release.activation!.snapshotVersion),
    ]);
    expect(rollupAdmissions(release, digestOf(rollups).rollups)).toEqual([]);
  });
});
