import type { FairnessReport, ReleaseReport } from './report.js';

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

export function reportLines(report: FairnessReport): string[] {
  const lines = [
    `${report.verdict}  (log size ${report.logSize}, ${report.releases.length} releases, ${Object.keys(report.groups).length} groups)`,
  ];
  for (const r of report.releases) {
    const worst = Object.entries(r.groups).sort(
      ([, a], [, b]) => b.firstDeliveryMs - a.firstDeliveryMs,
    )[0];
    lines.push(
      `  ${r.id}${r.title ? ` (${r.title})` : ''}: ${releaseStatus(r)}; groups ${Object.keys(r.groups).length}; equity gap ${r.equityGapMs ?? '-'} ms${r.equityGapUncertaintyMs !== undefined ? ` ±${r.equityGapUncertaintyMs} ms` : ''}${worst ? ` (slowest ${worst[0]})` : ''}`,
    );
  }
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
