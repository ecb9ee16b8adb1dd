import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type AuditOutcome, runAudit } from '../../src/audit/run.js';
import { readOnlineKeys } from '../../src/keys/keygen.js';
import { leafBytes } from '../../src/log/leaves.js';
import { tickStart } from '../../src/common/tick.js';
import { type Envelope, envelopeBytes, signEnvelope } from '../../src/tuf/metadata.js';
import { declareVouched } from '../helpers/owners.js';
import { type Fixture, SECOND, createFixture, listen, readRoot } from '../helpers/repo.js';
import {
  type Rewrite,
  adversary,
  auditOverHttp,
  pollGroupsByHand,
} from '../helpers/audit-scenario.js';
import { DIALECTS, type Dialect, freshDatabase } from '../helpers/dialects.js';

const GROUPS = ['eu-west', 'us-east', 'ap-south'];

interface Run {
  fx: Fixture;
  releases: number[];
  audit: () => Promise<AuditOutcome>;
}

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/**
 * Three groups polling every 5 s at different phases across two releases (acme at +60 s, quill at
 * +120 s), time driven by hand; receipts handed in, roll-ups logged, then one audit over HTTP.
 */
async function scenario(
  makeAdversary?: (fx: Fixture, releases: number[]) => { rewrite: Rewrite; pollAllAt?: number },
  dialect: Dialect = 'sqlite',
): Promise<Run> {
  const fx = await createFixture({ databaseUrl: await freshDatabase(dialect) });
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
  const plan = makeAdversary?.(fx, releases);
  const server = adversary(fx, plan?.rewrite ?? (() => undefined));
  await pollGroupsByHand(fx, server, {
    groups: GROUPS,
    from: start,
    to: start + 180 * SECOND,
    pollAllAt: plan?.pollAllAt,
    owners,
  });
  const audit = await auditOverHttp(fx, cleanup);
  return { fx, releases, audit };
}

const groupsIn = (outcome: AuditOutcome) => [
  ...new Set(outcome.report!.findings.filter((f) => f.unfair).map((f) => f.group)),
];

describe('the fairness audit', () => {
  it.each(DIALECTS)(
    '%s: an honest run audits FAIR, with every release activated on time and delivered to every group',
    async (dialect) => {
      const { audit, releases } = await scenario(undefined, dialect);
      const outcome = await audit();
      expect(outcome.error).toBeUndefined();
      expect(outcome.report!.findings).toEqual([]);
      expect(outcome.exitCode).toBe(0);
      expect(outcome.report!.verdict).toBe('FAIR');
      expect(outcome.report!.releases.map((r) => r.releaseAt)).toEqual(releases);
      for (const release of outcome.report!.releases) {
        expect(release.activation!.delayMs).toBe(0);
        expect(Object.keys(release.groups).sort()).toEqual([...GROUPS].sort());
        for (const g of Object.values(release.groups))
          expect(g.firstDeliveryMs).toBeLessThan(5 * SECOND);
        expect(release.equityGapMs).toBeLessThan(5 * SECOND);
      }
      for (const g of GROUPS) expect(outcome.report!.groups[g]!.staleness.max).toBe(0);
    },
  );

  it('UNFAIR when one group keeps being served the pre-release statement after activation', async () => {
    let activation = 0;
    const { audit } = await scenario((fx, releases) => {
      activation = tickOf(fx, releases[0]!);
      return {
        rewrite: (group, k) =>
          group === 'ap-south' && k >= activation
            ? fx.node.repo.view.timestampAt(activation - 1)
            : undefined,
      };
    });
    const outcome = await audit();
    expect(outcome.exitCode).toBe(1);
    expect(groupsIn(outcome)).toEqual(['ap-south']);
    const withheld = outcome.report!.findings.find((f) => f.kind === 'served-without-release');
    // Three agents of the group signed it: a quorum of distinct keys, so the testimony convicts.
    expect(withheld).toMatchObject({
      group: 'ap-south',
      release: 'acme/2',
      class: 'testimony',
      unfair: true,
      sources: ['log'],
    });
    expect(withheld!.witnesses).toHaveLength(3);
    expect(
      (withheld!.evidence.runs as Array<{ tick: number }>).every((r) => r.tick === activation - 1),
    ).toBe(true);
  });

  it('UNFAIR when one group is served an older, still valid tick', async () => {
    const { audit } = await scenario((fx) => ({
      rewrite: (group, k) =>
        group === 'us-east' && k > 60 ? fx.node.repo.view.timestampAt(k - 60) : undefined,
    }));
    const outcome = await audit();
    expect(outcome.exitCode).toBe(1);
    expect(groupsIn(outcome)).toEqual(['us-east']);
    expect(
      outcome.report!.findings.some((f) => f.kind === 'served-stale' && f.group === 'us-east'),
    ).toBe(true);
    expect(outcome.report!.groups['us-east']!.staleness.max).toBeGreaterThanOrEqual(60 * SECOND);
  });

  it('UNFAIR when two different statements are signed for one tick', async () => {
    const { audit } = await scenario((fx, releases) => {
      const forgeTick = tickOf(fx, releases[0]!) + 10;
      const keys = readOnlineKeys(fx.keysDir, fx.node.repo.latestRoot());
      return {
        pollAllAt: forgeTick,
        rewrite: (group, k) => {
          if (group !== 'eu-west' || k !== forgeTick) return undefined;
          const genuine = JSON.parse(fx.node.repo.view.timestampAt(k).toString()) as Envelope<{
            version: number;
          }>;
          // Same tick, same key, another document: eu-west was told something else.
          return envelopeBytes(
            signEnvelope({ ...genuine.signed, meta: { 'snapshot.json': { version: 1 } } }, [
              keys.timestamp,
            ]),
          );
        },
      };
    });
    const outcome = await audit();
    expect(outcome.exitCode).toBe(1);
    const equivocation = outcome.report!.findings.find((f) => f.kind === 'equivocation');
    expect(equivocation?.evidence.groups).toContain('eu-west');
    expect((equivocation!.evidence.documents as string[]).length).toBe(2);
  });

  it('UNFAIR when the log is rewritten behind the auditor saved checkpoint', async () => {
    const { audit, fx } = await scenario();
    expect((await audit()).exitCode).toBe(0);
    // The operator rewrites history: a different log, longer than the one the auditor saw.
    for (const table of ['log_leaves', 'log_nodes', 'log_checkpoints', 'log_head'] as const)
      await fx.node.db.deleteFrom(table).execute();
    const { epochMs, tickMs } = fx.node.repo.config;
    for (let i = 0; i < 300; i++) {
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
    }
    const outcome = await audit();
    expect(outcome.exitCode).toBe(1);
    const rewritten = outcome.report!.findings.find((f) => f.kind === 'log-inconsistent');
    expect(rewritten?.evidence.saved_checkpoint).toMatch(/^fairpatch\.dev\/log\n\d+\n/);
    expect(rewritten?.evidence.served_checkpoint).toMatch(/^fairpatch\.dev\/log\n300\n/);
  });

  it('cannot verify (exit 2) a log signed by a key other than the pinned one', async () => {
    const { fx } = await scenario();
    const http = await listen(fx.node.app);
    cleanup.push(() => http.close());
    const other = await createFixture();
    cleanup.push(() => other.close());
    const root = readRoot(fx.keysDir);
    const outcome = await runAudit({
      server: http.url,
      stateDir: mkdtempSync(join(tmpdir(), 'fp-')),
      logKey: other.node.logVerifierKey,
      root,
      now: fx.clock.now(),
    });
    expect(outcome.exitCode).toBe(2);
    expect(outcome.error).toMatch(/signed by any known key/);
  });
});

function tickOf(fx: Fixture, at: number): number {
  const { epochMs, tickMs } = fx.node.repo.config;
  const k = Math.ceil((at - epochMs) / tickMs) + 1;
  expect(tickStart(fx.node.repo.config, k)).toBe(at);
  return k;
}
