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
}): Finding[] {
  const { report, seen, options } = input;
  const act = report.activation;
  if (!act) return [];
  const deadline = act.tickStart + options.maxGapMs;
  const byGroup = new Map<string, Seen[]>();
  for (const s of seen) byGroup.set(s.group, [...(byGroup.get(s.group) ?? []), s]);
  const out: Finding[] = [];
  for (const [group, list] of [...byGroup].sort(([a], [b]) => a.localeCompare(b))) {
    const withheld = list.filter(
      (s) => s.doc.snapshotVersion < act.snapshotVersion && s.lastAt > deadline,
    );
    if (withheld.length > 0) {
      const late = Math.max(...withheld.map((s) => s.lastAt)) - act.tickStart;
      out.push(
        corroborate({
          kind: 'served-without-release',
          group,
          release: report.id,
          list: withheld,
          options,
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
          options,
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
          options,
          message: (n) =>
            `${n} agents in group ${group} could not download the artifacts of ${report.id}`,
        }),
      );
  }
  return out;
}

/**
 * Testimony becomes a conviction only when enough independent agents signed it: a quorum of
 * distinct keys, or one key the group's owner pinned. Otherwise it is reported as uncorroborated.
 */
export function corroborate(input: {
  kind: Finding['kind'];
  group: string;
  release?: string;
  list: readonly Seen[];
  options: AuditOptions;
  message: (agents: number) => string;
}): Finding {
  const { kind, group, list, options } = input;
  const agents = [...new Set(list.map((s) => s.agent))].sort();
  const pinned = agents.filter((a) => options.pinned[group]?.includes(a));
  const convicts = agents.length >= options.quorum || pinned.length > 0;
  const why =
    pinned.length > 0
      ? `pinned by the group's owner: ${pinned.length}`
      : `${agents.length} of a quorum of ${options.quorum}`;
  return {
    kind,
    class: 'testimony',
    unfair: convicts,
    group,
    ...(input.release ? { release: input.release } : {}),
    message: `${input.message(agents.length)} (${why}${convicts ? '' : '; uncorroborated'})`,
    evidence: {
      runs: list.slice(0, 20).map((s) => ({
        agent: s.agent,
        first_at: new Date(s.firstAt).toISOString(),
        last_at: new Date(s.lastAt).toISOString(),
        polls: s.polls,
        via: s.via,
        tick: s.doc.tick,
        source: s.source,
      })),
    },
    witnesses: agents,
    sources: [...new Set(list.map((s) => s.source))].sort(),
  };
}
