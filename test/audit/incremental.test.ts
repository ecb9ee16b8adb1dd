import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { type AuditOutcome, runAudit } from '../../src/audit/run.js';
import { leafBytes } from '../../src/log/leaves.js';
import { randomBytes } from 'node:crypto';
import { ed25519PublicKey } from '../../src/common/ed25519.js';
import { signObservation } from '../../src/common/observation.js';
import { declareVouched } from '../helpers/owners.js';
import { type Fixture, SECOND, createFixture, listen, readRoot } from '../helpers/repo.js';
import { adversary, pollGroupsByHand } from '../helpers/audit-scenario.js';

const GROUPS = ['eu-west', 'us-east', 'ap-south'];

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** The node over real HTTP, every request path it was asked for recorded. */
async function countingServer(fx: Fixture): Promise<{ url: string; paths: string[] }> {
  const paths: string[] = [];
  const app = new Hono();
  app.all('*', (c) => {
    paths.push(new URL(c.req.url).pathname);
    return fx.node.app.fetch(c.req.raw);
  });
  const http = await listen(app);
  cleanup.push(() => http.close());
  return { url: http.url, paths };
}

const audit = (fx: Fixture, server: string, stateDir: string): Promise<AuditOutcome> =>
  runAudit({
    server,
    stateDir,
    logKey: fx.node.logVerifierKey,
    root: readRoot(fx.keysDir),
    now: fx.clock.now(),
  });

/**
 * Roll-ups of a node, one a tick from `from`: by default one that served nobody (leaves enough to
 * span several tiles, no finding); `busy`, one that served eu-west snapshot 1, three polls a tick.
 */
async function rollups(fx: Fixture, count: number, from: number, busy = false): Promise<void> {
  await fx.node.sequencer.appendAll(
    Array.from({ length: count }, (_, i) => {
      const tick = from + i + 1;
      const served = { polls: 3, first_tick: tick, last_tick: tick + 1 };
      return {
        dedupe: `${busy ? 'busy' : 'quiet'}:${tick}`,
        data: leafBytes({
          type: 'delivery.rollup',
          v: 1,
          node: busy ? 'busy' : 'quiet',
          from_tick: tick,
          to_tick: tick + 1,
          groups: busy ? { 'eu-west': { polls: 3, versions: { '1': served } } } : {},
        }),
      };
    }),
  );
}
const quietRollups = (fx: Fixture, count: number, from: number) => rollups(fx, count, from);

const bundleIndex = (path: string): number =>
  Number(
    path
      .replace(/^\/log\/tile\/entries-u32\//, '')
      .replace(/\.p\/\d+$/, '')
      .replace(/x/g, '')
      .split('/')
      .join(''),
  );

describe('an audit that keeps what it verified (--state)', () => {
  it('after new entries reads only their tiles, and judges as a full audit does', async () => {
    const fx = await createFixture();
    cleanup.push(() => fx.close());
    await fx.addVendor('acme');
    await fx.addVendor('quill');
    const start = fx.clock.now();
    const releases = [start + 60 * SECOND, start + 120 * SECOND];
    await fx.node.repo.stageVendorMetadata(
      'acme',
      await fx.release('acme', {}, [await fx.artifact('agent.sh', 'a')], releases[0]!),
    );
    await fx.node.repo.stageVendorMetadata(
      'quill',
      await fx.release(
        'quill',
        { product: 'libquill', version: '3.8.2' },
        [await fx.artifact('quill.tar', 'q', 'any', 'quill')],
        releases[1]!,
      ),
    );
    const owners = await declareVouched(fx, GROUPS);
    const server = adversary(fx, () => undefined);
    await quietRollups(fx, 700, 0);
    await pollGroupsByHand(fx, server, {
      groups: GROUPS,
      from: start,
      to: start + 90 * SECOND,
      owners,
    });
    const http = await countingServer(fx);
    const stateDir = join(mkdtempSync(join(tmpdir(), 'fp-incremental-')), 'state');

    const first = await audit(fx, http.url, stateDir);
    expect(first.error).toBeUndefined();
    const firstSize = first.checkpoint!.size;
    // The state is the auditor's alone: 0700, its files 0600.
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    for (const f of readdirSync(stateDir))
      expect(statSync(join(stateDir, f)).mode & 0o777, f).toBe(0o600);

    await quietRollups(fx, 600, 1000);
    await pollGroupsByHand(fx, server, {
      groups: GROUPS,
      from: start + 91 * SECOND,
      to: start + 180 * SECOND,
      owners,
    });
    http.paths.length = 0;
    const second = await audit(fx, http.url, stateDir);
    const secondPaths = [...http.paths];
    expect(second.error).toBeUndefined();
    const size = second.checkpoint!.size;
    expect(size).toBeGreaterThan(firstSize + 600);

    // Only the bundles the new entries are in (the first one shared with the old ones), no page of
    // entries, no proof endpoint.
    const bundles = secondPaths.filter((p) => p.startsWith('/log/tile/entries-u32/'));
    expect(bundles.map(bundleIndex).sort((a, b) => a - b)).toEqual(
      Array.from(
        { length: Math.ceil(size / 256) - Math.floor(firstSize / 256) },
        (_, i) => Math.floor(firstSize / 256) + i,
      ),
    );
    expect(secondPaths.filter((p) => p.startsWith('/log/entries'))).toEqual([]);
    expect(secondPaths.filter((p) => p.startsWith('/log/proof'))).toEqual([]);

    // A full audit from nothing reads every bundle and reaches the same verdict on the same facts.
    http.paths.length = 0;
    const full = await audit(fx, http.url, mkdtempSync(join(tmpdir(), 'fp-full-')));
    expect(http.paths.filter((p) => p.startsWith('/log/tile/entries-u32/')).length).toBe(
      Math.ceil(size / 256),
    );
    expect(second.report).toEqual(full.report);
    expect(second.exitCode).toBe(full.exitCode);
    expect(full.report!.verdict).toBe('FAIR');
    expect(full.report!.releases.map((r) => r.releaseAt)).toEqual(releases);

    // A third run with nothing new reads the checkpoint and at most the last bundle.
    http.paths.length = 0;
    const third = await audit(fx, http.url, stateDir);
    expect(third.report).toEqual(full.report);
    expect(http.paths.filter((p) => p.startsWith('/log/tile/')).length).toBeLessThanOrEqual(1);
  }, 120_000);

  it("keeps a digest, not the log: a run's state does not grow with the nodes' roll-ups", async () => {
    const fx = await createFixture();
    cleanup.push(() => fx.close());
    const busy = (count: number, from: number) => rollups(fx, count, from, true);
    await busy(300, 0);
    const http = await countingServer(fx);
    const stateDir = mkdtempSync(join(tmpdir(), 'fp-digest-'));
    const bytes = () =>
      readdirSync(stateDir).reduce((n, f) => n + statSync(join(stateDir, f)).size, 0);
    expect((await audit(fx, http.url, stateDir)).error).toBeUndefined();
    const before = bytes();
    await busy(3_000, 1_000);
    const after = await audit(fx, http.url, stateDir);
    expect(after.error).toBeUndefined();
    // 3,000 more roll-ups change sums in the digest, not its size (each leaf is about 200 bytes).
    expect(bytes() - before).toBeLessThan(2_000);
    expect(after.report!.groups['eu-west']?.polls).toBe(3 * 3_300);
    const full = await audit(fx, http.url, mkdtempSync(join(tmpdir(), 'fp-digest-full-')));
    expect(after.report).toEqual(full.report);
  }, 60_000);

  it('a state it cannot use (a file missing, one garbled) is not used: the log is read whole', async () => {
    const fx = await createFixture();
    cleanup.push(() => fx.close());
    await quietRollups(fx, 600, 0);
    const http = await countingServer(fx);
    const stateDir = mkdtempSync(join(tmpdir(), 'fp-damaged-'));
    const first = await audit(fx, http.url, stateDir);
    expect(first.error).toBeUndefined();
    const size = first.checkpoint!.size;
    const bundles = () => http.paths.filter((p) => p.startsWith('/log/tile/entries-u32/')).length;
    for (const damage of [
      () =>
        rmSync(
          join(
            stateDir,
            readdirSync(stateDir).find((f) => f.startsWith('digest-'))!,
          ),
        ),
      () => writeFileSync(join(stateDir, 'log-state.json'), '{"v":1,'),
      () => {
        const file = readdirSync(stateDir).find((f) => f.startsWith('digest-'))!;
        writeFileSync(join(stateDir, file), '{"size":1,"leaves":[]}');
      },
    ]) {
      damage();
      http.paths.length = 0;
      const again = await audit(fx, http.url, stateDir);
      expect(again.report).toEqual(first.report);
      expect(bundles()).toBe(Math.ceil(size / 256));
    }
  }, 60_000);

  it('a logged receipt whose signature fails stays unverifiable in the runs after, as in a full audit', async () => {
    const fx = await createFixture();
    cleanup.push(() => fx.close());
    const seed = randomBytes(32);
    const at = new Date(fx.clock.now()).toISOString();
    const signed = signObservation(
      {
        v: 1,
        agent: ed25519PublicKey(seed).toString('hex'),
        group: 'eu-west',
        document: 'a'.repeat(64),
        first_at: at,
        last_at: at,
        polls: 1,
        via: '/g/eu-west',
        lag_ms: 0,
      },
      seed,
    );
    const forged = { ...signed, sig: signed.sig.replace(/^./, (c) => (c === '0' ? '1' : '0')) };
    // Past intake (which refuses it): a node that logged it anyway.
    await fx.node.sequencer.append({
      dedupe: 'forged-receipt',
      data: leafBytes({ type: 'receipts.batch', v: 2, documents: {}, receipts: [forged] }),
    });
    const http = await countingServer(fx);
    const stateDir = mkdtempSync(join(tmpdir(), 'fp-invalid-'));
    const unverifiable = (o: AuditOutcome) =>
      o
        .report!.findings.filter((f) => f.kind === 'receipt-unverifiable')
        .map((f) => f.evidence.sig);
    expect(unverifiable(await audit(fx, http.url, stateDir))).toEqual([forged.sig]);
    await quietRollups(fx, 300, 0);
    const later = await audit(fx, http.url, stateDir);
    expect(unverifiable(later)).toEqual([forged.sig]);
    expect(later.report).toEqual(
      (await audit(fx, http.url, mkdtempSync(join(tmpdir(), 'fp-')))).report,
    );
  }, 60_000);

  it('a log rewritten behind the saved state is a finding with proof, and the state stays as it was', async () => {
    const fx = await createFixture();
    cleanup.push(() => fx.close());
    await quietRollups(fx, 300, 0);
    const http = await countingServer(fx);
    const stateDir = mkdtempSync(join(tmpdir(), 'fp-rewrite-'));
    const first = await audit(fx, http.url, stateDir);
    expect(first.error).toBeUndefined();
    const saved = readdirSync(stateDir).sort();

    // History rewritten: leaf 100 replaced (and every node above it), then the log grows.
    for (const table of ['log_leaves', 'log_nodes', 'log_checkpoints', 'log_head'] as const)
      await fx.node.db.deleteFrom(table).execute();
    const entries = Array.from({ length: 400 }, (_, i) => ({
      dedupe: `quiet:${i}`,
      data: leafBytes({
        type: 'delivery.rollup',
        v: 1,
        node: i === 100 ? 'rewritten' : 'quiet',
        from_tick: i + 1,
        to_tick: i + 2,
        groups: {},
      }),
    }));
    await fx.node.sequencer.appendAll(entries);

    const outcome = await audit(fx, http.url, stateDir);
    expect(outcome.exitCode).toBe(1);
    const finding = outcome.report!.findings.find((f) => f.kind === 'log-inconsistent');
    expect(finding?.class).toBe('proof');
    expect(finding?.evidence.saved_checkpoint).toContain(`\n${first.checkpoint!.size}\n`);
    expect(finding?.evidence.served_checkpoint).toMatch(/\n400\n/);
    // Still the state of the log it verified: the next run says so again.
    expect(readdirSync(stateDir).sort()).toEqual(saved);
    expect((await audit(fx, http.url, stateDir)).exitCode).toBe(1);
  }, 60_000);
});
