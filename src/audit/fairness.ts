import { tickStart as startOfTick } from '../common/tick.js';
import { isGroupName } from '../common/names.js';
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
import { byGroup, corroborate, maxOf, testimony } from './testimony.js';
import { enrolledKey, vouchedKeys } from './enrollments.js';
import type { KeyWindows } from './key-windows.js';
import { activationFindings, earlyRelease, equivocations, rollupAdmissions } from './proof.js';
export { activationFindings, earlyRelease, equivocations, rollupAdmissions } from './proof.js';

import type { Verifier } from '../log/note.js';
import { splitViews } from './split-view.js';
import { servedChanges } from './served-changes.js';
import { type AuditedSalt, rolloutAudit } from './rollout.js';
import { openSealedSchedules } from './sealed-schedules.js';
import { type LogDigest, digestOf } from './digest/log-digest.js';
export * from './report.js';

// The fairness verdict: a pure function of the verified log, outside evidence, the trusted timestamp
// keys and the auditor's clock, in small passes. A finding that convicts rests on what the accused
// signed (proof, checked exactly) or on agent-signed testimony from keys a group's owner vouched for;
// keys no one vouches for cost nothing, so however many there are they neither convict nor clear.

export function evaluateFairness(input: {
  /** The verified log, folded (src/audit/digest/); or its leaves, folded here. */
  digest?: LogDigest;
  leaves?: ReadonlyArray<{ index: number; leaf: Leaf }>;
  timestampKeys: ReadonlyMap<string, TufKey>;
  /** When each timestamp key was in force: a retired key's signature on a later tick counts for nothing. */
  timestampKeyWindows?: KeyWindows;
  now: number;
  options?: Partial<AuditOptions>;
  extraFindings?: Finding[];
  external?: readonly ExternalEvidence[];
  /** Verifications to reuse and extend (a long-lived reader); a fresh one per call otherwise. */
  cache?: VerificationCache;
  /** The verified log (its keys and roots at every size), to hold agents' checkpoints against. */
  log?: { keys: readonly Verifier[]; rootAt: (size: number) => Uint8Array };
  /** Staged releases' lottery salts, as the auditor verified them (src/audit/rollout-salts.ts). */
  rolloutSalts?: ReadonlyMap<string, AuditedSalt>;
}): FairnessReport {
  const options: AuditOptions = { ...DEFAULT_AUDIT_OPTIONS, ...input.options };
  const digest = input.digest ?? digestOf(input.leaves ?? []);
  // Embargo members' schedules, sealed until the reveal, read as the schedules they open.
  const unsealed = openSealedSchedules(digest.leaves);
  const byType = leavesByType(unsealed.leaves);
  const of = <T extends Leaf['type']>(type: T) =>
    (byType.get(type) ?? []) as Array<{ index: number; leaf: LeafOf<T> }>;
  const created = of('repository.created')[0]?.leaf;
  const clock = { epochMs: created?.epoch_ms ?? 0, tickMs: created?.tick_ms ?? 1000 };
  const tickStart = (k: number): number => startOfTick(clock, k);

  const external = input.external ?? [];
  const {
    vouched,
    enrolledAt,
    ownersSource,
    notes: ownerNotes,
  } = vouchedKeys({
    leaves: digest.leaves,
    enrollments: digest.receipts.enrollments,
    external,
    owners: options.owners,
    pinnedClients: options.pinned,
    ...(input.cache ? { verified: input.cache.signatures } : {}),
  });
  const quorumOf = (group: string): number => vouched.quorum(group) ?? options.quorum;
  const { seen, documents, notes } = collectObservations({
    receipts: digest.receipts,
    external,
    timestampKeys: input.timestampKeys,
    vouched: (group, agent, at) => vouched.vouched(group, agent, at),
    ...(input.timestampKeyWindows ? { keyWindows: input.timestampKeyWindows } : {}),
    ...(input.cache ? { cache: input.cache } : {}),
  });
  const findings: Finding[] = [
    ...(input.extraFindings ?? []),
    ...ownerNotes,
    ...notes,
    ...unsealed.findings,
  ];
  findings.push(...equivocations(documents, seen));
  findings.push(
    ...servedChanges({
      of,
      rollups: digest.rollups,
      documents,
      now: input.now,
      options,
      tickStart,
    }),
  );
  if (input.log)
    findings.push(
      ...splitViews({
        seen,
        logKeys: input.log.keys,
        logSize: digest.size,
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
    findings.push(...rollupAdmissions(report, digest.rollups));
    deliveries(report, seen, options);
    findings.push(...testimony({ report, seen, options, tickStart, quorumOf }));
    if ('metadata' in activation.leaf) {
      const staged = rolloutAudit({
        report,
        vendor: report.vendor,
        metadata: activation.leaf.metadata,
        activationTick: activation.leaf.tick,
        clock,
        now: input.now,
        seen,
        salts: input.rolloutSalts ?? new Map(),
        vendorActivations: of('release.activated').flatMap(({ leaf }) =>
          leaf.vendor === report.vendor && 'metadata' in leaf
            ? [{ tick: leaf.tick, metadata: leaf.metadata }]
            : [],
        ),
        autoPauses: of('rollout.auto-paused'),
        vouchedAt: (group, agent, at) => vouched.vouched(group, agent, at),
        enrolledAt: (group, agent) => enrolledAt.get(enrolledKey(group, agent)),
        options,
        quorumOf,
      });
      if (staged.rollout) report.rollout = staged.rollout;
      findings.push(...staged.findings);
    }
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
  findings.push(...servedStale(seen, options, tickStart, quorumOf));
  findings.push(...groupPathFailing(seen, quorumOf));
  const declared = of('groups.declared').at(-1)?.leaf.groups;
  findings.push(
    ...coverage({
      declared,
      releases: releases.map((r) => r.report),
      seen,
      now: input.now,
      options,
      convicted: new Set(
        findings.filter((f) => f.unfair && f.group).map((f) => `${f.group}/${f.release ?? ''}`),
      ),
    }),
  );

  return {
    verdict: verdictOf(findings),
    logSize: digest.size,
    tickMs: clock.tickMs,
    ...(declared ? { declaredGroups: declared } : {}),
    owners: Object.fromEntries(
      Object.entries(ownersSource).map(([group, source]) => [
        group,
        { source, quorum: quorumOf(group), vouchedAgents: vouched.count(group) },
      ]),
    ),
    releases: releases.map((r) => r.report),
    embargoes,
    ...groupStats(seen, digest.rollups.polls, tickStart),
    evidence: evidenceBySource(seen),
    findings,
  };
}

/** The leaves of each type, in log order, in one pass over a log of any size. */
function leavesByType(
  leaves: ReadonlyArray<{ index: number; leaf: Leaf }>,
): Map<Leaf['type'], Array<{ index: number; leaf: Leaf }>> {
  const out = new Map<Leaf['type'], Array<{ index: number; leaf: Leaf }>>();
  for (const l of leaves) {
    const list = out.get(l.leaf.type);
    if (list) list.push(l);
    else out.set(l.leaf.type, [l]);
  }
  return out;
}

/** UNFAIR wins; anything the auditor could not check keeps the verdict from FAIR. */
export function verdictOf(findings: readonly Finding[]): Verdict {
  if (findings.some((f) => f.unfair)) return 'UNFAIR';
  return findings.some((f) => f.class === 'cannot-verify') ? 'CANNOT_VERIFY' : 'FAIR';
}

/**
 * Per group: the first receipt carrying the release and the last one without it after activation.
 * The figures rest on vouched agents' receipts where the group has any (`vouched: true`); a group
 * heard from only through unvouched keys gets their figures, marked as such, and never counts as
 * covered. The equity gap is taken over vouched deliveries only.
 */
export function deliveries(
  report: ReleaseReport,
  seen: readonly Seen[],
  options: AuditOptions,
): void {
  const act = report.activation!;
  for (const [group, all] of byGroup(seen)) {
    const relevant = (s: Seen) =>
      s.doc.snapshotVersion >= act.snapshotVersion || s.lastAt >= act.tickStart;
    const vouchedList = all.filter((s) => s.vouched && relevant(s));
    const list = vouchedList.length > 0 ? vouchedList : all.filter(relevant);
    if (list.length === 0) continue;
    let first: Seen | undefined;
    let lastWithout = -Infinity;
    let stalePolls = 0;
    const agents = new Set<string>();
    for (const s of list) {
      if (s.doc.snapshotVersion >= act.snapshotVersion) {
        agents.add(s.agent);
        if (!first || s.firstAt < first.firstAt) first = s;
      } else {
        lastWithout = Math.max(lastWithout, s.lastAt);
        if (s.lastAt > act.tickStart + options.maxGapMs) stalePolls += s.polls;
      }
    }
    report.groups[group] = {
      ...report.groups[group],
      firstDeliveryMs: first ? first.firstAt - report.releaseAt : Number.NaN,
      ...(Number.isFinite(lastWithout) ? { lastWithoutMs: lastWithout - report.releaseAt } : {}),
      agents: agents.size,
      vouched: vouchedList.length > 0,
      source: 'receipt',
      stalePolls,
      leafIndex: report.scheduledLeaf,
    };
  }
  const delivered = Object.values(report.groups).filter(
    (g) => g.vouched && Number.isFinite(g.firstDeliveryMs),
  );
  if (delivered.length > 0) {
    const firsts = delivered.map((g) => g.firstDeliveryMs);
    report.equityGapMs = maxOf(firsts, (f) => f) + maxOf(firsts, (f) => -f);
    report.equityGapUncertaintyMs = Math.max(
      0,
      maxOf(
        delivered,
        (g) => g.firstDeliveryMs - Math.max(g.lastWithoutMs ?? act.delayMs, act.delayMs),
      ),
    );
  }
}

/**
 * Testimony: the group's own path did not answer its agents (5xx, unreachable) while another path did:
 * an outage for one group only is unequal treatment even when the agents got around it.
 */
export function groupPathFailing(
  seen: readonly Seen[],
  quorumOf: (group: string) => number,
): Finding[] {
  const failing = seen.filter((s) => s.pathFailures.some((via) => via.startsWith(`/g/${s.group}`)));
  return [...byGroup(failing)].map(([group, list]) =>
    corroborate({
      kind: 'group-path-failing',
      group,
      list,
      quorum: quorumOf(group),
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
  quorumOf: (group: string) => number,
): Finding[] {
  const lag = (s: Seen) => s.lastAt - tickStart(s.doc.tick);
  const stale = seen.filter((s) => lag(s) > options.maxLagMs);
  return [...byGroup(stale)].map(([group, list]) =>
    corroborate({
      kind: 'served-stale',
      group,
      list,
      quorum: quorumOf(group),
      message: (n) =>
        `${n} agents in group ${group} were served statements more than ${options.maxLagMs / 1000}s behind their tick (up to ${Math.round(maxOf(list, lag) / 1000)}s)`,
    }),
  );
}

/**
 * What keeps the verdict from FAIR: no declared groups (the auditor cannot know whom to cover), or a
 * declared group without a vouched receipt carrying a release that is due. Receipts from keys no one
 * vouches for cover nothing (anyone can make a key per group), and a group whose only evidence says
 * it was withheld is not covered either: if that testimony does not convict, the group is unverified.
 */
export function coverage(input: {
  declared: readonly string[] | undefined;
  releases: readonly ReleaseReport[];
  seen: readonly Seen[];
  now: number;
  options: AuditOptions;
  /** `group/release` already found UNFAIR: no need to add that it is unverified too. */
  convicted?: ReadonlySet<string>;
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
      if (g?.vouched && Number.isFinite(g.firstDeliveryMs)) continue;
      if (input.convicted?.has(`${group}/${r.id}`)) continue;
      const why = !g
        ? `no agent receipt from group ${group} covers ${r.id}`
        : !g.vouched
          ? `only keys no owner vouches for report on group ${group} for ${r.id}`
          : `the vouched receipts of group ${group} only show it without ${r.id}`;
      out.push({
        kind: 'no-evidence',
        class: 'cannot-verify',
        unfair: false,
        group,
        release: r.id,
        message: `${why}: its delivery cannot be verified`,
        evidence: g ? { agents: g.agents, vouched: g.vouched ?? false } : {},
      });
    }
  }
  return out;
}

/** Per source of receipts, the runs it supplied (a run in several sources counts under the first read). */
function evidenceBySource(seen: readonly Seen[]): NonNullable<FairnessReport['evidence']> {
  const by = new Map<string, { receipts: number; agents: Set<string> }>();
  for (const s of seen) {
    const entry = by.get(s.source) ?? { receipts: 0, agents: new Set<string>() };
    by.set(s.source, entry);
    entry.receipts += 1;
    entry.agents.add(s.agent);
  }
  return Object.fromEntries(
    [...by].map(([source, e]) => [source, { receipts: e.receipts, agents: e.agents.size }]),
  );
}

/**
 * Per group: receipts, agents (and how many of them a trusted owner vouches for), staleness and the
 * nodes' poll counts. Roll-up buckets (`_`, `_undeclared`, `_overflow`) are no group: their polls are
 * returned apart, so they never show as, or count among, the groups.
 */
function groupStats(
  seen: readonly Seen[],
  polls: ReadonlyMap<string, number>,
  tickStart: (k: number) => number,
): Pick<FairnessReport, 'groups' | 'unattributedPolls'> {
  const stats = new Map<
    string,
    { staleness: number[]; agents: Set<string>; vouched: Set<string>; polls: number }
  >();
  const of = (g: string) => {
    let s = stats.get(g);
    if (!s) {
      s = { staleness: [], agents: new Set(), vouched: new Set(), polls: 0 };
      stats.set(g, s);
    }
    return s;
  };
  for (const s of seen) {
    const entry = of(s.group);
    entry.staleness.push(s.firstAt - tickStart(s.doc.tick));
    entry.agents.add(s.agent);
    if (s.vouched) entry.vouched.add(s.agent);
  }
  const unattributed: Record<string, number> = {};
  for (const [g, n] of polls) {
    if (isGroupName(g)) of(g).polls += n;
    else unattributed[g] = (unattributed[g] ?? 0) + n;
  }
  const out: FairnessReport['groups'] = {};
  for (const [g, s] of [...stats].sort(([a], [b]) => a.localeCompare(b)))
    out[g] = {
      receipts: s.staleness.length,
      agents: s.agents.size,
      vouchedAgents: s.vouched.size,
      staleness: percentiles(s.staleness),
      polls: s.polls,
    };
  return {
    groups: out,
    ...(Object.keys(unattributed).length > 0 ? { unattributedPolls: unattributed } : {}),
  };
}

export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { p50: 0, p99: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? 0 };
}
