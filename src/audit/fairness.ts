import { tickStart as startOfTick } from '../common/tick.js';
import type { Leaf, LeafOf } from '../log/leaves.js';
import type { TufKey } from '../tuf/keys.js';
import {
  type ExternalEvidence,
  type Seen,
  type VerificationCache,
  collectObservations,
} from './observations.js';
import { releasesFrom } from './releases.js';
import { embargoesFrom } from './embargoes.js';
import {
  type AuditOptions,
  DEFAULT_AUDIT_OPTIONS,
  type FairnessReport,
  type Finding,
  type Percentiles,
  type ReleaseReport,
  type Verdict,
} from './report.js';
import { corroborate, testimony } from './testimony.js';
import { activationFindings, earlyRelease, equivocations, rollupAdmissions } from './proof.js';
export { activationFindings, earlyRelease, equivocations, rollupAdmissions } from './proof.js';

import type { Verifier } from '../log/note.js';
import { splitViews } from './split-view.js';
export * from './report.js';

// The fairness verdict: a pure function of the verified log, outside evidence, the trusted timestamp
// keys and the auditor's clock, in small passes. A finding that convicts rests on what the accused
// signed (proof) or on agent-signed testimony from a quorum of keys (or a key the group's owner
// pinned); one unauthenticated or uncorroborated claim never convicts anyone.

export function evaluateFairness(input: {
  leaves: ReadonlyArray<{ index: number; leaf: Leaf }>;
  timestampKeys: ReadonlyMap<string, TufKey>;
  now: number;
  options?: Partial<AuditOptions>;
  extraFindings?: Finding[];
  external?: readonly ExternalEvidence[];
  /** Verifications to reuse and extend (a long-lived reader); a fresh one per call otherwise. */
  cache?: VerificationCache;
  /** The verified log (its keys and roots at every size), to hold agents' checkpoints against. */
  log?: { keys: readonly Verifier[]; rootAt: (size: number) => Uint8Array };
}): FairnessReport {
  const options: AuditOptions = { ...DEFAULT_AUDIT_OPTIONS, ...input.options };
  const of = <T extends Leaf['type']>(type: T) =>
    input.leaves.filter((l): l is { index: number; leaf: LeafOf<T> } => l.leaf.type === type);
  const created = of('repository.created')[0]?.leaf;
  const clock = { epochMs: created?.epoch_ms ?? 0, tickMs: created?.tick_ms ?? 1000 };
  const tickStart = (k: number): number => startOfTick(clock, k);

  const { seen, documents, notes } = collectObservations({
    leaves: input.leaves,
    external: input.external ?? [],
    timestampKeys: input.timestampKeys,
    ...(input.cache ? { cache: input.cache } : {}),
  });
  const findings: Finding[] = [...(input.extraFindings ?? []), ...notes];
  findings.push(...equivocations(documents, seen));
  if (input.log)
    findings.push(
      ...splitViews({
        seen,
        logKeys: input.log.keys,
        logSize: input.leaves.length,
        rootAt: input.log.rootAt,
      }),
    );

  const { releases, findings: commitments } = releasesFrom({
    scheduled: of('release.scheduled'),
    halted: of('release.halted'),
    activated: of('release.activated'),
    tickStart,
  });
  findings.push(...commitments);
  const rollups = of('delivery.rollup');
  for (const release of releases) {
    const { report, activation } = release;
    findings.push(...activationFindings({ release, now: input.now, options, tickStart }));
    if (!activation) continue;
    const start = tickStart(activation.leaf.tick);
    report.activation = {
      tick: activation.leaf.tick,
      tickStart: start,
      delayMs: start - report.releaseAt,
      snapshotVersion: activation.leaf.snapshot_version,
      leaf: activation.index,
    };
    findings.push(...earlyRelease(report, documents, seen));
    findings.push(...rollupAdmissions(report, rollups));
    deliveries(report, seen, options);
    findings.push(...testimony({ report, seen, options, tickStart }));
  }
  const { embargoes, findings: embargoFindings } = embargoesFrom({
    created: of('embargo.created'),
    decided: of('embargo.decided'),
    revealed: of('embargo.revealed'),
    releases: releases.map((r) => r.report),
    findings,
    tickStart,
  });
  findings.push(...embargoFindings);
  findings.push(...servedStale(seen, options, tickStart));
  findings.push(...groupPathFailing(seen, options));
  findings.push(
    ...coverage({
      declared: of('groups.declared').at(-1)?.leaf.groups,
      releases: releases.map((r) => r.report),
      seen,
      now: input.now,
      options,
    }),
  );

  return {
    verdict: verdictOf(findings),
    logSize: input.leaves.length,
    tickMs: clock.tickMs,
    ...(of('groups.declared').length > 0
      ? { declaredGroups: of('groups.declared').at(-1)!.leaf.groups }
      : {}),
    releases: releases.map((r) => r.report),
    embargoes,
    groups: groupStats(seen, rollups, tickStart),
    findings,
  };
}

/** UNFAIR wins; anything the auditor could not check keeps the verdict from FAIR. */
export function verdictOf(findings: readonly Finding[]): Verdict {
  if (findings.some((f) => f.unfair)) return 'UNFAIR';
  return findings.some((f) => f.class === 'cannot-verify') ? 'CANNOT_VERIFY' : 'FAIR';
}

/** Per group: the first receipt carrying the release and the last one without it after activation. */
export function deliveries(
  report: ReleaseReport,
  seen: readonly Seen[],
  options: AuditOptions,
): void {
  const act = report.activation!;
  const byGroup = new Map<string, Seen[]>();
  for (const s of seen) byGroup.set(s.group, [...(byGroup.get(s.group) ?? []), s]);
  for (const [group, list] of byGroup) {
    const carrying = list.filter((s) => s.doc.snapshotVersion >= act.snapshotVersion);
    const without = list.filter(
      (s) => s.doc.snapshotVersion < act.snapshotVersion && s.lastAt >= act.tickStart,
    );
    if (carrying.length === 0 && without.length === 0) continue;
    const first = carrying.reduce<Seen | undefined>(
      (a, s) => (!a || s.firstAt < a.firstAt ? s : a),
      undefined,
    );
    const lastWithout = Math.max(...without.map((s) => s.lastAt));
    report.groups[group] = {
      ...report.groups[group],
      firstDeliveryMs: first ? first.firstAt - report.releaseAt : Number.NaN,
      ...(without.length > 0 ? { lastWithoutMs: lastWithout - report.releaseAt } : {}),
      agents: new Set(carrying.map((s) => s.agent)).size,
      source: 'receipt',
      stalePolls: without
        .filter((s) => s.lastAt > act.tickStart + options.maxGapMs)
        .reduce((n, s) => n + s.polls, 0),
      leafIndex: report.scheduledLeaf,
    };
  }
  const delivered = Object.values(report.groups).filter((g) => Number.isFinite(g.firstDeliveryMs));
  if (delivered.length > 0) {
    const firsts = delivered.map((g) => g.firstDeliveryMs);
    report.equityGapMs = Math.max(...firsts) - Math.min(...firsts);
    report.equityGapUncertaintyMs = Math.max(
      0,
      ...delivered.map(
        (g) => g.firstDeliveryMs - Math.max(g.lastWithoutMs ?? act.delayMs, act.delayMs),
      ),
    );
  }
}

/**
 * Testimony: the group's own path did not answer its agents (5xx, unreachable) while another path did:
 * an outage for one group only is unequal treatment even when the agents got around it.
 */
export function groupPathFailing(seen: readonly Seen[], options: AuditOptions): Finding[] {
  const byGroup = new Map<string, Seen[]>();
  for (const s of seen)
    if (s.pathFailures.some((via) => via.startsWith(`/g/${s.group}`)))
      byGroup.set(s.group, [...(byGroup.get(s.group) ?? []), s]);
  return [...byGroup].map(([group, list]) =>
    corroborate({
      kind: 'group-path-failing',
      group,
      list,
      options,
      message: (n) =>
        `${n} agents in group ${group} found the group's own path failing while another path answered`,
    }),
  );
}

/** Testimony: statements served long after their tick (a freeze), whatever they carried. */
export function servedStale(
  seen: readonly Seen[],
  options: AuditOptions,
  tickStart: (k: number) => number,
): Finding[] {
  const byGroup = new Map<string, Seen[]>();
  for (const s of seen)
    if (s.lastAt - tickStart(s.doc.tick) > options.maxLagMs)
      byGroup.set(s.group, [...(byGroup.get(s.group) ?? []), s]);
  return [...byGroup].map(([group, list]) =>
    corroborate({
      kind: 'served-stale',
      group,
      list,
      options,
      message: (n) =>
        `${n} agents in group ${group} were served statements more than ${options.maxLagMs / 1000}s behind their tick (up to ${Math.round(Math.max(...list.map((s) => s.lastAt - tickStart(s.doc.tick))) / 1000)}s)`,
    }),
  );
}

/**
 * What keeps the verdict from FAIR: no declared groups (the auditor cannot know whom to cover), or a
 * declared group with no receipt carrying a release that is due.
 */
export function coverage(input: {
  declared: readonly string[] | undefined;
  releases: readonly ReleaseReport[];
  seen: readonly Seen[];
  now: number;
  options: AuditOptions;
}): Finding[] {
  if (!input.declared) {
    return [
      {
        kind: 'groups-undeclared',
        class: 'cannot-verify',
        unfair: false,
        message:
          'the operator has not declared its customer groups in the log: the audit cannot know whom it must cover',
        evidence: {},
      },
    ];
  }
  const out: Finding[] = [];
  for (const r of input.releases) {
    if (!r.activation || r.activation.tickStart + input.options.maxGapMs > input.now) continue;
    for (const group of input.declared) {
      const g = r.groups[group];
      if (g && (Number.isFinite(g.firstDeliveryMs) || g.lastWithoutMs !== undefined)) continue;
      out.push({
        kind: 'no-evidence',
        class: 'cannot-verify',
        unfair: false,
        group,
        release: r.id,
        message: `no agent receipt from group ${group} covers ${r.id}: its delivery cannot be verified`,
        evidence: {},
      });
    }
  }
  return out;
}

function groupStats(
  seen: readonly Seen[],
  rollups: ReadonlyArray<{ leaf: LeafOf<'delivery.rollup'> }>,
  tickStart: (k: number) => number,
): FairnessReport['groups'] {
  const stats = new Map<string, { staleness: number[]; agents: Set<string>; polls: number }>();
  const of = (g: string) => {
    let s = stats.get(g);
    if (!s) {
      s = { staleness: [], agents: new Set(), polls: 0 };
      stats.set(g, s);
    }
    return s;
  };
  for (const s of seen) {
    const entry = of(s.group);
    entry.staleness.push(s.firstAt - tickStart(s.doc.tick));
    entry.agents.add(s.agent);
  }
  for (const { leaf } of rollups)
    for (const [g, d] of Object.entries(leaf.groups)) of(g).polls += d.polls;
  const out: FairnessReport['groups'] = {};
  for (const [g, s] of [...stats].sort(([a], [b]) => a.localeCompare(b)))
    out[g] = {
      receipts: s.staleness.length,
      agents: s.agents.size,
      staleness: percentiles(s.staleness),
      polls: s.polls,
    };
  return out;
}

export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { p50: 0, p99: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? 0 };
}
