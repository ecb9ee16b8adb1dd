import type { FairnessReport, ReleaseReport } from './fairness.js';

// The fairness report as one self-contained HTML page (no scripts, no front-end build): served as
// the dashboard at `/` and written by `fairpatch audit --html`.

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1b1f24;padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:2rem 0 .5rem}
.verdict{display:inline-block;padding:.3rem .8rem;border-radius:.3rem;font-weight:700;color:#fff}
.FAIR{background:#1a7f37}.UNFAIR{background:#cf222e}
table{border-collapse:collapse;width:100%;margin:.5rem 0}td,th{border-bottom:1px solid #d0d7de;padding:.3rem .5rem;text-align:left}
th{background:#f6f8fa}.num{text-align:right;font-variant-numeric:tabular-nums}
.finding{border-left:4px solid #cf222e;padding:.3rem .8rem;margin:.5rem 0;background:#fff5f5}
.note{color:#57606a}svg text{font:12px system-ui,sans-serif}pre{white-space:pre-wrap;word-break:break-all;font-size:11px}
`;

const seconds = (ms: number | undefined): string => (ms === undefined || !Number.isFinite(ms) ? '–' : `${(ms / 1000).toFixed(3)} s`);

/** One release's deliveries per group against its release_at (x: seconds after release_at). */
function Timeline({ release }: { release: ReleaseReport }) {
  const groups = Object.entries(release.groups).sort(([a], [b]) => a.localeCompare(b));
  const delays = groups.map(([, g]) => g.firstDeliveryMs).filter((d) => Number.isFinite(d));
  const span = Math.max(5_000, ...delays, release.activation?.delayMs ?? 0) * 1.15;
  const width = 900;
  const left = 140;
  const right = 300;
  const row = 26;
  const height = 40 + row * Math.max(1, groups.length);
  const x = (ms: number) => left + ((ms + span * 0.05) / (span * 1.05)) * (width - left - right);
  return (
    <svg data-testid={`timeline-${release.id}`} width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`deliveries of ${release.id} per group`}>
      <line x1={x(0)} x2={x(0)} y1={10} y2={height - 20} stroke="#0969da" stroke-dasharray="4 3" />
      <text x={x(0) + 4} y={20} fill="#0969da">release_at</text>
      {release.activation ? <line x1={x(release.activation.delayMs)} x2={x(release.activation.delayMs)} y1={24} y2={height - 20} stroke="#1a7f37" /> : null}
      {groups.map(([name, g], i) => {
        const y = 40 + i * row;
        const ok = Number.isFinite(g.firstDeliveryMs);
        return (
          <g data-group={name}>
            <text x={8} y={y + 4}>{name}</text>
            <line x1={left} x2={width - right + 10} y1={y} y2={y} stroke="#d0d7de" />
            {ok ? <circle cx={x(g.firstDeliveryMs)} cy={y} r={5} fill={g.stalePolls > 0 ? '#cf222e' : '#1a7f37'} /> : null}
            <text x={width - 18} y={y + 4} text-anchor="end" fill={g.stalePolls > 0 ? '#cf222e' : '#57606a'}>
              {ok ? `+${seconds(g.firstDeliveryMs)}` : 'never'} {g.stalePolls > 0 ? `· ${g.stalePolls} stale` : ''}
              {g.notification ? ` · pushed to ${g.notification.connections} in ${g.notification.delayMs.toFixed(2)} ms` : ''}
            </text>
          </g>
        );
      })}
      <text x={left} y={height - 4} fill="#57606a">time after release_at →</text>
    </svg>
  );
}

export function ReportPage({ report, title, subtitle }: { report: FairnessReport; title: string; subtitle: string }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>{title}</title>
        <style>{STYLE}</style>
      </head>
      <body>
        <h1>{title}</h1>
        <p class="note">{subtitle}</p>
        <p>
          <span class={`verdict ${report.verdict}`} data-testid="verdict">{report.verdict}</span>{' '}
          <span class="note">log size {report.logSize}, tick {report.tickMs} ms</span>
        </p>
        <h2>Releases</h2>
        <table>
          <thead><tr><th>release</th><th>targets</th><th>release_at</th><th class="num">activation tick</th><th class="num">activation delay</th><th class="num">equity gap</th></tr></thead>
          <tbody>
            {report.releases.map((r) => (
              <tr>
                <td>{r.id}</td>
                <td>{r.targets.join(', ')}</td>
                <td>{new Date(r.releaseAt).toISOString()}</td>
                <td class="num">{r.activation?.tick ?? 'pending'}</td>
                <td class="num">{seconds(r.activation?.delayMs)}</td>
                <td class="num">{seconds(r.equityGapMs)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {report.releases.map((r) => (
          <section>
            <h2>{r.id}: first delivery per group</h2>
            <Timeline release={r} />
          </section>
        ))}
        {report.embargoes.map((e) => (
          <section data-embargo={e.id}>
            <h2>Advisory {e.id}: tick {e.tick} ({new Date(e.tickStart).toISOString()}), snapshot {e.snapshotVersion ?? '-'}</h2>
            <table>
              <thead><tr><th>member</th><th>status</th><th>release</th><th class="num">tick</th><th class="num">snapshot</th><th>first delivery per group</th></tr></thead>
              <tbody>
                {Object.entries(e.members).map(([vendor, m]) => (
                  <tr>
                    <td>{vendor}</td>
                    <td>{m.status}</td>
                    <td>{m.release ?? '-'}</td>
                    <td class="num">{m.activationTick ?? '-'}</td>
                    <td class="num">{m.snapshotVersion ?? '-'}</td>
                    <td>{Object.entries(m.groups).map(([g, d]) => `${g} ${seconds(d.firstDeliveryMs)}`).join(', ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        ))}
        <h2>Groups</h2>
        <table>
          <thead><tr><th>group</th><th class="num">polls (roll-ups)</th><th class="num">receipts</th><th class="num">staleness p50</th><th class="num">p99</th><th class="num">max</th></tr></thead>
          <tbody>
            {Object.entries(report.groups).map(([g, s]) => (
              <tr>
                <td>{g}</td>
                <td class="num">{s.polls}</td>
                <td class="num">{s.receipts}</td>
                <td class="num">{seconds(s.staleness.p50)}</td>
                <td class="num">{seconds(s.staleness.p99)}</td>
                <td class="num">{seconds(s.staleness.max)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <h2>Findings ({report.findings.length})</h2>
        {report.findings.length === 0 ? <p class="note">None.</p> : null}
        {report.findings.map((f) => (
          <div class="finding" data-kind={f.kind}>
            <strong>{f.kind}</strong> {f.group ? `· group ${f.group}` : ''} {f.release ? `· ${f.release}` : ''}
            <div>{f.message}</div>
            <details><summary>evidence</summary><pre>{JSON.stringify(f.evidence, null, 2)}</pre></details>
          </div>
        ))}
      </body>
    </html>
  );
}

export async function renderReportHtml(report: FairnessReport, title: string, subtitle: string): Promise<string> {
  return '<!doctype html>' + (await (<ReportPage report={report} title={title} subtitle={subtitle} />).toString());
}
