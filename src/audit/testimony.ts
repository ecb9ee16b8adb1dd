import type { Seen } from './observations.js';
import type { AuditOptions, Finding, ReleaseReport } from './report.js';

/**
 * What agents signed about one release in their group: still served without it well after its
 * activation, no push at its activation tick while their stream was up, its artifacts unavailable.
 * Each becomes a finding per group, convicting only when corroborated (see corroborate).
 */
export function testimony(input: {
  report: ReleaseReport;
  seen: readonly Seen[];
  options: AuditOptions;
  tickStart: (k: number) => number;
  /** Distinct vouched agents that convict, by the group's owner's policy. */
  quorumOf: (group: string) => number;
}): Finding[] {
  const { report, seen, options } = input;
  const act = report.activation;
  if (!act) return [];
  const deadline = act.tickStart + options.maxGapMs;
  const out: Finding[] = [];
  for (const [group, list] of [...byGroup(seen)].sort(([a], [b]) => a.localeCompare(b))) {
    const quorum = input.quorumOf(group);
    const withheld = list.filter(
      (s) => s.doc.snapshotVersion < act.snapshotVersion && s.lastAt > deadline,
    );
    if (withheld.length > 0) {
      const late = maxOf(withheld, (s) => s.lastAt) - act.tickStart;
      out.push(
        corroborate({
          kind: 'served-without-release',
          group,
          release: report.id,
          list: withheld,
          quorum,
          // The other side: agents of the same group that did get it.
          against: list.filter((s) => s.doc.snapshotVersion >= act.snapshotVersion),
          message: (n) =>
            `${n} agents in group ${group} were still served statements without ${report.id} up to ${Math.round(late / 1000)}s after its activation tick`,
        }),
      );
    }
    // The first statement carrying the release each agent got, and whether a push announced it.
    const firsts = new Map<string, Seen>();
    for (const s of list) {
      if (s.doc.snapshotVersion < act.snapshotVersion) continue;
      const f = firsts.get(s.agent);
      if (!f || s.firstAt < f.firstAt) firsts.set(s.agent, s);
    }
    const unpushed = [...firsts.values()].filter((s) => s.pushed === false && s.firstAt > deadline);
    if (unpushed.length > 0)
      out.push(
        corroborate({
          kind: 'push-missing',
          group,
          release: report.id,
          list: unpushed,
          quorum,
          message: (n) =>
            `${n} agents in group ${group} held the event stream but got no push for ${report.id}`,
        }),
      );
    const failed = list.filter((s) => s.artifactFailures.some((t) => report.targets.includes(t)));
    if (failed.length > 0)
      out.push(
        corroborate({
          kind: 'artifacts-unavailable',
          group,
          release: report.id,
          list: failed,
          quorum,
          message: (n) =>
            `${n} agents in group ${group} could not download the artifacts of ${report.id}`,
        }),
      );
  }
  return out;
}

/**
 * Testimony becomes a conviction only from keys someone accountable vouched for: as many distinct
 * vouched agents as the group's owner asks (its quorum), or one key pinned directly. A key costs
 * nothing, so unvouched keys never convict and never clear anyone, however many there are: their
 * claim is reported (how many keys, what they say) and nothing more. Where vouched agents of the group
 * say the opposite (`against`), both sides are named.
 */
export function corroborate(input: {
  kind: Finding['kind'];
  group: string;
  release?: string;
  list: readonly Seen[];
  quorum: number;
  against?: readonly Seen[];
  message: (agents: number) => string;
}): Finding {
  const { kind, group, list, quorum } = input;
  const vouched = distinct(list.filter((s) => s.vouched));
  const unvouched = distinct(list.filter((s) => !s.vouched));
  const convicts = vouched.length >= quorum;
  const why =
    vouched.length > 0
      ? `${vouched.length} vouched of a quorum of ${quorum}${unvouched.length > 0 ? `, ${unvouched.length} unvouched not counted` : ''}`
      : `${unvouched.length} unvouched keys: not counted, no owner vouches for them`;
  const otherSide = distinct((input.against ?? []).filter((s) => s.vouched));
  return {
    kind,
    class: 'testimony',
    unfair: convicts,
    group,
    ...(input.release ? { release: input.release } : {}),
    message: `${input.message(vouched.length + unvouched.length)} (${why}${convicts ? '' : '; uncorroborated'})${otherSide.length > 0 ? `; ${otherSide.length} vouched agents of the group say otherwise` : ''}`,
    evidence: {
      vouched_keys: vouched.length,
      unvouched_keys: unvouched.length,
      runs: list.slice(0, 20).map((s) => ({
        agent: s.agent,
        vouched: s.vouched,
        first_at: new Date(s.firstAt).toISOString(),
        last_at: new Date(s.lastAt).toISOString(),
        polls: s.polls,
        via: s.via,
        tick: s.doc.tick,
        source: s.source,
      })),
      ...(otherSide.length > 0 ? { contradicted_by: otherSide.slice(0, 20) } : {}),
    },
    witnesses: vouched.length > 0 ? vouched : unvouched,
    sources: [...new Set(list.map((s) => s.source))].sort(),
  };
}

/** Runs by group, in one pass. */
export function byGroup(seen: readonly Seen[]): Map<string, Seen[]> {
  const out = new Map<string, Seen[]>();
  for (const s of seen) {
    const list = out.get(s.group);
    if (list) list.push(s);
    else out.set(s.group, [s]);
  }
  return out;
}

/** The largest of `f` over a list of any length (no spread: a million arguments overflow the stack). */
export function maxOf<T>(list: readonly T[], f: (t: T) => number): number {
  let max = -Infinity;
  for (const t of list) max = Math.max(max, f(t));
  return max;
}

const distinct = (list: readonly Seen[]): string[] => [...new Set(list.map((s) => s.agent))].sort();
