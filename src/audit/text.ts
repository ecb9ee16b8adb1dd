import { BUCKET_MEANING, isGroupName } from '../common/names.js';
import type { AdvisoryPublication } from './advisories.js';
import type { FairnessReport, ReleaseReport } from './report.js';
import { rolloutLines } from './rollout-view.js';

// The fairness report as the lines `fairpatch audit` prints: the verdict, each release (when it went
// live, when a halt withdrew it), each advisory, each finding.

const iso = (ms: number): string => new Date(ms).toISOString();

/** When a release went live and, if a halt withdrew it, when and by which version and leaf. */
export function releaseStatus(r: ReleaseReport): string {
  const w = r.withdrawn;
  const by = (v: number, leaf: number) => `by ${r.vendor}/${v} (leaf ${leaf})`;
  if (w?.beforeLive)
    return `halted before its tick: withdrawn at ${iso(w.tickStart)} (tick ${w.tick}) ${by(w.metadataVersion, w.leaf)}, never live`;
  const live = r.activation
    ? `activation ${iso(r.activation.tickStart)} (tick ${r.activation.tick}, +${r.activation.delayMs} ms${r.carriedBy !== undefined ? `, inside ${r.vendor}/${r.carriedBy}` : ''})`
    : 'activation pending';
  return w
    ? `${live}; halted: withdrawn at ${iso(w.tickStart)} (tick ${w.tick}) ${by(w.metadataVersion, w.leaf)}`
    : live;
}

/** When an advisory went public, and whether its fix did at the same tick (one activation leaf). */
export function advisoryLine(a: AdvisoryPublication): string {
  const fix = `${a.fix.product} ${a.fix.version}`;
  if (a.sameTick)
    return `advisory ${a.id}: public with its fix ${fix} at the same tick, ${iso(a.tickStart)} (tick ${a.tick}, leaf ${a.leaf})`;
  const when = a.fix.tick === undefined ? 'never' : `at tick ${a.fix.tick} (leaf ${a.fix.leaf})`;
  return `advisory ${a.id}: public at tick ${a.tick} (leaf ${a.leaf}), its fix ${fix} ${when}: not the same tick`;
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** The release's name, then what it fixes: severity and CVEs from the vendor's metadata. */
export function releaseName(r: ReleaseReport): string {
  const what = [r.title, r.severity, r.cves?.join(' ')].filter(Boolean).join('; ');
  return `${r.id}${what ? ` (${what})` : ''}`;
}

/**
 * The equity gap in words, or nothing before any vouched group received it. The gap between the first
 * and the last group to receive it is only measured when it is wider than its uncertainty (how long
 * a group may have had it before its agents polled); otherwise what the receipts show is a bound:
 * every group within so long of the tick.
 */
export function equityLine(r: ReleaseReport): string | undefined {
  if (r.equityGapMs === undefined || !r.activation) return undefined;
  const delay = r.activation.delayMs;
  // A loop, not a spread: one entry per group, and groups come from clients.
  let within = 0;
  for (const g of Object.values(r.groups))
    if (g.vouched && Number.isFinite(g.firstDeliveryMs))
      within = Math.max(within, g.firstDeliveryMs - delay);
  const uncertainty = r.equityGapUncertaintyMs ?? 0;
  if (uncertainty < r.equityGapMs)
    return `groups received it up to ${secs(r.equityGapMs)} apart (±${secs(uncertainty)}, from the agents' receipts)`;
  return `every group within ${secs(within)} of the tick (agents' first receipts; a gap between groups is below what their polls can measure)`;
}

/** One group's delivery of a release: its window after the tick, and whose receipts it rests on. */
function deliveryLine(r: ReleaseReport, group: string): string {
  const g = r.groups[group]!;
  const delay = r.activation?.delayMs ?? 0;
  const got = Number.isFinite(g.firstDeliveryMs)
    ? `received ${secs(g.firstDeliveryMs - delay)} after the tick`
    : 'no receipt carrying it';
  const without =
    g.lastWithoutMs !== undefined
      ? `, still without it ${secs(g.lastWithoutMs - delay)} after the tick`
      : '';
  const whose = g.vouched ? 'vouched' : 'unvouched keys only: not counted';
  return `    ${group}: ${got}${without}; ${g.agents} agents (${whose})`;
}

export function reportLines(report: FairnessReport): string[] {
  const groupCount = report.declaredGroups
    ? `${report.declaredGroups.length} declared groups`
    : `${Object.keys(report.groups).length} groups, none declared`;
  const lines = [
    `${report.verdict}  (log size ${report.logSize}, ${report.releases.length} releases, ${groupCount})`,
  ];
  for (const r of report.releases) {
    const equity = equityLine(r);
    lines.push(`  ${releaseName(r)}: ${releaseStatus(r)}${equity ? `; ${equity}` : ''}`);
    for (const a of r.advisories ?? []) lines.push(`    ${advisoryLine(a)}`);
    // A roll-up bucket can carry a push count too: it is no group, and has no delivery of its own.
    for (const group of Object.keys(r.groups).filter(isGroupName).sort())
      lines.push(deliveryLine(r, group));
    lines.push(...rolloutLines(r));
  }
  for (const [group, s] of Object.entries(report.groups)) {
    const owner = report.owners[group];
    const unvouched = s.agents - s.vouchedAgents;
    lines.push(
      `  group ${group}: ${s.vouchedAgents} vouched agents${unvouched > 0 ? `, ${unvouched} unvouched (not counted)` : ''}${owner ? ` (owner keys from ${owner.source}, quorum ${owner.quorum})` : ' (no owner declared)'}; ${s.receipts} receipts, ${s.polls} polls`,
    );
  }
  for (const [bucket, polls] of Object.entries(report.unattributedPolls ?? {}))
    lines.push(
      `  in no group: ${bucket} ${polls} polls (${BUCKET_MEANING[bucket] ?? 'a roll-up bucket'})`,
    );
  for (const [source, e] of Object.entries(report.evidence ?? {}))
    lines.push(`  evidence from ${source}: ${e.receipts} receipts from ${e.agents} agents`);
  for (const e of report.embargoes) {
    lines.push(
      `  advisory ${e.id}: tick ${e.tick} (${iso(e.tickStart)}), snapshot ${e.snapshotVersion ?? '-'}`,
    );
    for (const [vendor, m] of Object.entries(e.members)) {
      const groups = Object.entries(m.groups)
        .map(([g, d]) => `${g} +${d.firstDeliveryMs} ms`)
        .join(', ');
      lines.push(
        `    ${vendor}: ${m.status}${m.release ? ` ${m.release}` : ''}${m.snapshotVersion !== undefined ? ` in snapshot ${m.snapshotVersion}` : ''}${groups ? `; ${groups}` : ''}`,
      );
    }
  }
  for (const f of report.findings) {
    const label = f.unfair
      ? `UNFAIR (${f.class})`
      : f.class === 'cannot-verify'
        ? 'CANNOT VERIFY'
        : f.class === 'testimony'
          ? 'uncorroborated'
          : 'note';
    lines.push(
      `  ${label} ${f.kind}${f.group ? ` [${f.group}]` : ''}: ${f.message}${f.sources ? ` (evidence from ${f.sources.join(', ')})` : ''}`,
    );
  }
  return lines;
}
