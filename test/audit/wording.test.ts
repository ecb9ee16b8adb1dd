import { describe, expect, it } from 'vitest';
import { evaluateFairness } from '../../src/audit/fairness.js';
import { releasesFrom } from '../../src/audit/releases.js';
import type { FairnessReport, ReleaseReport } from '../../src/audit/report.js';
import { equityLine, reportLines } from '../../src/audit/text.js';
import type { Leaf } from '../../src/log/leaves.js';
import {
  EPOCH,
  activated,
  agent,
  indexed,
  receipt,
  receiptsLeaf,
  release,
  scheduled,
  tickStart,
  timestamp,
  timestampRole,
} from './passes/build.js';

// What `fairpatch audit` prints says what it measures: groups are the declared customer groups (never
// a roll-up bucket), the equity gap only when it is wider than its uncertainty, which source each
// receipt came from, and what each release fixes.

const baseReport = (over: Partial<FairnessReport> = {}): FairnessReport => ({
  verdict: 'FAIR',
  logSize: 10,
  tickMs: 5000,
  releases: [],
  embargoes: [],
  groups: {},
  owners: {},
  findings: [],
  ...over,
});

const created: Leaf = {
  type: 'repository.created',
  v: 1,
  epoch_ms: EPOCH,
  tick_ms: 5000,
  freshness_ms: 60_000,
  root_sha256: '0'.repeat(64),
};

describe('groups in the audit text', () => {
  it('counts the declared groups; roll-up buckets are named as what they are, never as groups', () => {
    const leaves: Leaf[] = [
      { type: 'groups.declared', v: 1, groups: ['eu', 'us', 'ap'] },
      {
        type: 'delivery.rollup',
        v: 1,
        node: 'n1',
        from_tick: 1,
        to_tick: 2,
        groups: {
          _: { polls: 7, versions: { '1': { polls: 7, first_tick: 1, last_tick: 2 } } },
          _undeclared: { polls: 3, versions: { '1': { polls: 3, first_tick: 1, last_tick: 2 } } },
          eu: { polls: 5, versions: { '1': { polls: 5, first_tick: 1, last_tick: 2 } } },
        },
      },
    ];
    const report = evaluateFairness({
      leaves: indexed(leaves),
      timestampKeys: new Map(),
      now: EPOCH,
    });
    expect(Object.keys(report.groups)).toEqual(['eu']);
    expect(report.unattributedPolls).toEqual({ _: 7, _undeclared: 3 });
    const lines = reportLines(report);
    expect(lines[0]).toMatch(/, 3 declared groups\)$/);
    expect(lines.some((l) => /group _[ :]/.test(l))).toBe(false);
    expect(lines).toContain('  in no group: _ 7 polls (polls without a group in the path)');
    expect(lines).toContain(
      '  in no group: _undeclared 3 polls (polls under no declared group (none named, or a name not declared))',
    );
  });

  it('says per group how many agents its owner vouches for and how many are not counted', () => {
    const lines = reportLines(
      baseReport({
        declaredGroups: ['eu', 'us'],
        groups: {
          eu: {
            receipts: 9,
            agents: 3,
            vouchedAgents: 2,
            staleness: { p50: 0, p99: 0, max: 0 },
            polls: 20,
          },
          us: {
            receipts: 4,
            agents: 2,
            vouchedAgents: 2,
            staleness: { p50: 0, p99: 0, max: 0 },
            polls: 8,
          },
        },
        owners: { eu: { source: 'log', quorum: 1, vouchedAgents: 2 } },
      }),
    );
    expect(lines).toContain(
      '  group eu: 2 vouched agents, 1 unvouched (not counted) (owner keys from log, quorum 1); 9 receipts, 20 polls',
    );
    expect(lines).toContain(
      '  group us: 2 vouched agents (no owner declared); 4 receipts, 8 polls',
    );
  });
});

describe('the equity gap in words', () => {
  const delivered = (windows: Array<[number, number]>, gap: number, uncertainty: number) => {
    const r: ReleaseReport = release('acme/2', 10, 3);
    r.activation!.delayMs = 2000;
    windows.forEach(([first, lastWithout], i) => {
      r.groups[`g${i}`] = {
        firstDeliveryMs: first,
        lastWithoutMs: lastWithout,
        agents: 1,
        vouched: true,
        source: 'receipt',
        stalePolls: 0,
        leafIndex: 0,
      };
    });
    r.equityGapMs = gap;
    r.equityGapUncertaintyMs = uncertainty;
    return r;
  };

  it('no gap claimed when its uncertainty is as wide: every group within N s of the tick', () => {
    // The case: "equity gap 176236 ms ±218785 ms" next to FAIR.
    const r = delivered(
      [
        [4000, 1000],
        [180_236, 1000],
      ],
      176_236,
      218_785,
    );
    expect(equityLine(r)).toBe(
      "every group within 178.2 s of the tick (agents' first receipts; a gap between groups is below what their polls can measure)",
    );
    const line = reportLines(baseReport({ releases: [r] })).find((l) => l.startsWith('  acme/2'));
    expect(line).not.toMatch(/equity gap|±218/);
    expect(reportLines(baseReport({ releases: [r] }))).toContain(
      '    g1: received 178.2 s after the tick, still without it -1.0 s after the tick; 1 agents (vouched)',
    );
  });

  it('a gap wider than its uncertainty is stated with it', () => {
    const r = delivered(
      [
        [3000, 2500],
        [63_000, 62_000],
      ],
      60_000,
      1000,
    );
    expect(equityLine(r)).toBe(
      "groups received it up to 60.0 s apart (±1.0 s, from the agents' receipts)",
    );
  });

  it('a roll-up bucket with a push count has no delivery line of its own', () => {
    const r = delivered([[3000, 2500]], 0, 500);
    r.groups['_'] = {
      firstDeliveryMs: Number.NaN,
      agents: 0,
      source: 'rollup',
      stalePolls: 0,
      leafIndex: 0,
      notification: { connections: 2, delayMs: 1 },
    };
    const lines = reportLines(baseReport({ releases: [r] }));
    expect(lines.filter((l) => l.startsWith('    '))).toEqual([
      '    g0: received 1.0 s after the tick, still without it 0.5 s after the tick; 1 agents (vouched)',
    ]);
  });

  it('nothing before any vouched group received it', () => {
    expect(equityLine(release('acme/2', 10, 3))).toBeUndefined();
  });
});

describe('what each release fixes', () => {
  it('severity and CVEs from the activated metadata’s custom fields; malformed entries skipped', () => {
    const metadata = JSON.stringify({
      signed: {
        targets: {
          'acme/a.tar': {
            custom: {
              product: 'acme-agent',
              version: '2.4.1',
              severity: 'medium',
              cves: ['CVE-2026-4242', 'not-a-cve', 7],
            },
          },
          'acme/b.tar': { custom: { severity: 'critical', cves: ['CVE-2026-0001'] } },
          'acme/c.tar': { custom: { severity: 'apocalyptic', cves: 'CVE-2026-9999' } },
        },
      },
    });
    const { releases } = releasesFrom({
      scheduled: [{ index: 1, leaf: scheduled('acme', 2, 10, metadata) }],
      halted: [],
      activated: [{ index: 2, leaf: activated('acme', 2, 10, 3, metadata) }],
      tickStart,
    });
    const r = releases[0]!.report;
    expect(r.severity).toBe('critical');
    expect(r.cves).toEqual(['CVE-2026-0001', 'CVE-2026-4242']);
    expect(reportLines(baseReport({ releases: [r] }))[1]).toMatch(
      /^ {2}acme\/2 \(acme-agent 2\.4\.1; critical; CVE-2026-0001 CVE-2026-4242\): /,
    );
  });
});

describe('witness evidence named', () => {
  it('counts receipts per source: the log and each witness by URL', () => {
    const { key, keys } = timestampRole();
    const doc = timestamp(key, 10, 3);
    const a = agent();
    const b = agent();
    const at = tickStart(10) + 500;
    const leaves: Leaf[] = [
      created,
      receiptsLeaf([doc], [receipt(a, doc, { group: 'eu', firstAt: at })]),
    ];
    const report = evaluateFairness({
      leaves: indexed(leaves),
      timestampKeys: keys,
      now: at,
      external: [
        {
          source: 'witness http://w1.example',
          documents: { [doc.digest]: doc.envelope },
          receipts: [receipt(b, doc, { group: 'eu', firstAt: at + 1000 })],
        },
      ],
    });
    expect(report.evidence).toEqual({
      log: { receipts: 1, agents: 1 },
      'witness http://w1.example': { receipts: 1, agents: 1 },
    });
    const lines = reportLines(report);
    expect(lines).toContain('  evidence from log: 1 receipts from 1 agents');
    expect(lines).toContain('  evidence from witness http://w1.example: 1 receipts from 1 agents');
  });
});
