import { BUCKET_MEANING, isGroupName } from '../common/names.js';
import type { FairnessReport, Finding, ReleaseReport } from './fairness.js';
import { advisoryLine, equityLine } from './text.js';
import { RolloutSection } from './rollout-view.js';

// The fairness report as one self-contained HTML page (no scripts, no front-end build): served as
// the dashboard at `/` and written by `fairpatch audit --html`.

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1b1f24;padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:2rem 0 .5rem}
.verdict{display:inline-block;padding:.3rem .8rem;border-radius:.3rem;font-weight:700;color:#fff}
.FAIR{background:#1a7f37}.UNFAIR{background:#cf222e}.CANNOT_VERIFY{background:#9a6700}
table{border-collapse:collapse;width:100%;margin:.5rem 0}td,th{border-bottom:1px solid #d0d7de;padding:.3rem .5rem;text-align:left}
th{background:#f6f8fa}.num{text-align:right;font-variant-numeric:tabular-nums}
.finding{border-left:4px solid #cf222e;padding:.3rem .8rem;margin:.5rem 0;background:#fff5f5}
.finding.note,.finding.testimony{border-color:#9a6700;background:#fff8c5}.finding.cannot-verify{border-color:#9a6700;background:#fff8c5}
.note{color:#57606a}svg text{font:12px system-ui,sans-serif}pre{white-space:pre-wrap;word-break:break-all;font-size:11px}
.explain{background:#f6f8fa;padding:.6rem .9rem;border-radius:.3rem}
`;

const seconds = (ms: number | undefined): string =>
  ms === undefined || !Number.isFinite(ms) ? '–' : `${(ms / 1000).toFixed(1)} s`;
const nameOf = (r: ReleaseReport): string => (r.title ? `${r.title} (${r.id})` : r.id);
const statusOf = (r: ReleaseReport): string => {
  const w = r.withdrawn;
  const halt = w
    ? `halted at tick ${w.tick} by ${r.vendor}/${w.metadataVersion} (leaf ${w.leaf})`
    : '';
  if (w?.beforeLive) return `${halt}, before its tick: never live`;
  if (r.activation)
    return `live from tick ${r.activation.tick}${r.carriedBy !== undefined ? ` (inside ${r.vendor}/${r.carriedBy})` : ''}${w ? `; ${halt}` : ''}`;
  return 'scheduled (contents sealed until its tick)';
};

/** The x range every timeline shares, so the same x means the same delay on every chart. */
function sharedSpan(report: FairnessReport): number {
  const delays = report.releases
    .flatMap((r) =>
      Object.values(r.groups).flatMap((g) => [g.firstDeliveryMs, g.lastWithoutMs ?? 0]),
    )
    .filter((d) => Number.isFinite(d));
  return Math.max(5_000, ...delays, ...report.releases.map((r) => r.activation?.delayMs ?? 0));
}

/**
 * One release's delivery per group, in seconds after release_at on an axis every release shares: a
 * dot where a group's agents first got it, a bar back to the last time they were still served a
 * statement without it (the uncertainty of the delivery time).
 */
function Timeline({ release, span }: { release: ReleaseReport; span: number }) {
  const groups = Object.entries(release.groups)
    .filter(([name]) => isGroupName(name))
    .sort(([a], [b]) => a.localeCompare(b));
  const width = 900;
  const left = 140;
  const right = 260;
  const row = 26;
  const top = 34;
  const height = top + 30 + row * Math.max(1, groups.length);
  const x = (ms: number) =>
    left +
    (Math.max(-0.05 * span, Math.min(ms, span)) / span) * (width - left - right) * 0.95 +
    (width - left - right) * 0.05;
  const step = [1, 2, 5, 10, 15, 30, 60, 120, 300].find((s) => span / 1000 / s <= 8) ?? 600;
  const ticks = Array.from({ length: Math.floor(span / 1000 / step) + 1 }, (_, i) => i * step);
  const axis = height - 22;
  return (
    <svg
      data-testid={`timeline-${release.id}`}
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={`delivery of ${nameOf(release)} per group, seconds after release_at`}
    >
      <text x={x(0)} y={14} fill="#0969da" text-anchor="middle">
        release_at
      </text>
      <line x1={x(0)} x2={x(0)} y1={18} y2={axis} stroke="#0969da" stroke-dasharray="4 3" />
      {release.activation && release.activation.delayMs !== 0 ? (
        <line
          x1={x(release.activation.delayMs)}
          x2={x(release.activation.delayMs)}
          y1={28}
          y2={axis}
          stroke="#1a7f37"
        />
      ) : null}
      {groups.map(([name, g], i) => {
        const y = top + 8 + i * row;
        const ok = Number.isFinite(g.firstDeliveryMs);
        const late = g.stalePolls > 0;
        return (
          <g data-group={name}>
            <text x={8} y={y + 4}>
              {name}
            </text>
            <line x1={left} x2={width - right} y1={y} y2={y} stroke="#eaeef2" />
            {ok && g.lastWithoutMs !== undefined ? (
              <line
                x1={x(g.lastWithoutMs)}
                x2={x(g.firstDeliveryMs)}
                y1={y}
                y2={y}
                stroke={late ? '#cf222e' : '#8c959f'}
                stroke-width={3}
              />
            ) : null}
            {ok ? (
              <circle cx={x(g.firstDeliveryMs)} cy={y} r={5} fill={late ? '#cf222e' : '#1a7f37'} />
            ) : null}
            <text x={width - 8} y={y + 4} text-anchor="end" fill={late ? '#cf222e' : '#57606a'}>
              {ok ? `+${seconds(g.firstDeliveryMs)}` : 'no receipt yet'}
              {g.lastWithoutMs !== undefined
                ? ` (without it until +${seconds(g.lastWithoutMs)})`
                : ''}
              {g.agents ? ` · ${g.agents} agents` : ''}
              {g.vouched === false ? ' · unvouched keys only, not counted' : ''}
            </text>
          </g>
        );
      })}
      <line x1={x(0) - 10} x2={width - right} y1={axis} y2={axis} stroke="#57606a" />
      {ticks.map((t) => (
        <g>
          <line x1={x(t * 1000)} x2={x(t * 1000)} y1={axis} y2={axis + 4} stroke="#57606a" />
          <text x={x(t * 1000)} y={axis + 16} text-anchor="middle" fill="#57606a">{`${t} s`}</text>
        </g>
      ))}
    </svg>
  );
}

/** The log's newest checkpoint as the dashboard shows it, with the witnesses' cosignature lines on it. */
export interface CheckpointView {
  size: number;
  /** Root hash, hex. */
  rootHash: string;
  /** When the log signed it, ms. */
  signedAt: number;
  cosigners: Array<{ name: string; keyId: string; timestamp: number }>;
}

/** The newest checkpoint and who cosigned it, or plainly that nobody has. */
function CheckpointSection({ checkpoint }: { checkpoint: CheckpointView | undefined }) {
  return (
    <section data-testid="checkpoint">
      <h2>Log checkpoint</h2>
      {checkpoint ? (
        <>
          <p>
            Latest checkpoint: size <span data-testid="checkpoint-size">{checkpoint.size}</span>,
            root hash <code title={checkpoint.rootHash}>{checkpoint.rootHash.slice(0, 16)}…</code>,
            signed {new Date(checkpoint.signedAt).toISOString()}.
          </p>
          {checkpoint.cosigners.length === 0 ? (
            <p data-testid="cosigners-none">
              No witness has cosigned this checkpoint: nobody outside this log vouches for it yet.
            </p>
          ) : (
            <table data-testid="cosigners">
              <thead>
                <tr>
                  <th>cosigned by witness</th>
                  <th>key id</th>
                  <th>cosigned at</th>
                </tr>
              </thead>
              <tbody>
                {checkpoint.cosigners.map((c) => (
                  <tr data-cosigner={c.name}>
                    <td>{c.name}</td>
                    <td>
                      <code>{c.keyId}</code>
                    </td>
                    <td>{new Date(c.timestamp * 1000).toISOString()}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <p class="note">
            Cosignatures as the witnesses returned them; an auditor checks them against the witness
            keys it pins (fairpatch audit --witness-key).
          </p>
        </>
      ) : (
        <p data-testid="cosigners-none">
          The log has no checkpoint yet, so no witness cosigned one.
        </p>
      )}
    </section>
  );
}

/** The verdict in plain words: what it rests on, and what the equity gap means. */
function Explanation({ report }: { report: FairnessReport }) {
  const convicting = report.findings.filter((f) => f.unfair);
  const open = report.findings.filter((f) => f.class === 'cannot-verify');
  const gaps = report.releases.filter((r) => r.equityGapMs !== undefined);
  const widest = gaps.sort((a, b) => (b.equityGapMs ?? 0) - (a.equityGapMs ?? 0))[0];
  return (
    <div class="explain" data-testid="explanation">
      {report.verdict === 'FAIR' ? (
        <p>
          FAIR: every release went live at its tick, every declared group's agents signed that they
          received it, and no server-signed statement or corroborated testimony shows a group
          treated differently.
        </p>
      ) : null}
      {report.verdict === 'UNFAIR' ? (
        <p>
          UNFAIR: {convicting.length} finding(s) rest on proof (statements the server signed) or on
          testimony signed by enough independent agents:{' '}
          {[...new Set(convicting.map((f) => f.group ?? 'all groups'))].join(', ')}.
        </p>
      ) : null}
      {report.verdict === 'CANNOT_VERIFY' ? (
        <p>
          CANNOT VERIFY: nothing proves unfair treatment, but {open.length} thing(s) could not be
          checked ({[...new Set(open.map((f) => f.kind))].join(', ')}), so FAIR cannot be claimed.
        </p>
      ) : null}
      {widest ? (
        <p>
          Delivery is measured by the agents' own signed receipts: when each group's agents first
          received a release after its tick. It is at most as precise as their poll interval (±
          {seconds(widest.equityGapUncertaintyMs)} for {nameOf(widest)}): agents that poll every
          minute see a release up to a minute late even when it was served to everyone at its tick.
          A gap between groups is shown only when it is wider than that; only a group still served
          without a release after its tick is a finding.
        </p>
      ) : null}
    </div>
  );
}

function FindingBox({ f }: { f: Finding }) {
  return (
    <div class={`finding ${f.unfair ? '' : f.class}`} data-kind={f.kind}>
      <strong>
        {f.unfair
          ? 'UNFAIR'
          : f.class === 'testimony'
            ? 'uncorroborated'
            : f.class === 'cannot-verify'
              ? 'cannot verify'
              : 'note'}
      </strong>{' '}
      {f.kind} ({f.class}){f.group ? ` · group ${f.group}` : ''}
      {f.release ? ` · ${f.release}` : ''}
      <div>{f.message}</div>
      {f.sources ? <div class="note">evidence from {f.sources.join(', ')}</div> : null}
      <details>
        <summary>evidence</summary>
        <pre>{JSON.stringify(f.evidence, null, 2)}</pre>
      </details>
    </div>
  );
}

export function ReportPage({
  report,
  title,
  subtitle,
  checkpoint,
}: {
  report: FairnessReport;
  title: string;
  subtitle: string;
  /** Shown when given (the dashboard: the node's newest checkpoint); `null` when the log has none. */
  checkpoint?: CheckpointView | null;
}) {
  const span = sharedSpan(report);
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
          <span class={`verdict ${report.verdict}`} data-testid="verdict">
            {report.verdict}
          </span>{' '}
          <span class="note">
            log size {report.logSize}, tick {report.tickMs} ms
            {report.declaredGroups
              ? `, ${report.declaredGroups.length} declared groups`
              : `, ${Object.keys(report.groups).length} groups, none declared`}
          </span>
        </p>
        <Explanation report={report} />
        {checkpoint === undefined ? null : (
          <CheckpointSection checkpoint={checkpoint ?? undefined} />
        )}
        <h2>Releases</h2>
        <table>
          <thead>
            <tr>
              <th>release</th>
              <th>status</th>
              <th>release_at</th>
              <th>fixes</th>
              <th class="num">activation delay</th>
              <th>delivery to groups</th>
            </tr>
          </thead>
          <tbody>
            {report.releases.map((r) => (
              <tr data-release={r.id}>
                <td>{nameOf(r)}</td>
                <td>{statusOf(r)}</td>
                <td>{new Date(r.releaseAt).toISOString()}</td>
                <td data-testid={`fixes-${r.id}`}>
                  {[r.severity, r.cves?.join(', ')].filter(Boolean).join(': ') || '–'}
                  {(r.advisories ?? []).map((a) => (
                    <div class="note" data-advisory={a.id}>
                      {advisoryLine(a)}
                    </div>
                  ))}
                </td>
                <td class="num">{seconds(r.activation?.delayMs)}</td>
                <td data-testid={`delivery-${r.id}`}>{equityLine(r) ?? '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {report.releases
          .filter((r) => r.activation)
          .map((r) => (
            <section>
              <h2>{nameOf(r)}: delivery per group, seconds after release_at</h2>
              <Timeline release={r} span={span} />
            </section>
          ))}
        {report.releases.map((r) => (
          <RolloutSection release={r} />
        ))}
        {report.embargoes.map((e) => (
          <section data-embargo={e.id}>
            <h2>
              Advisory {e.id}: tick {e.tick} ({new Date(e.tickStart).toISOString()}), snapshot{' '}
              {e.snapshotVersion ?? '-'}
            </h2>
            <table>
              <thead>
                <tr>
                  <th>member</th>
                  <th>status</th>
                  <th>release</th>
                  <th class="num">tick</th>
                  <th class="num">snapshot</th>
                  <th>first delivery per group</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(e.members).map(([vendor, m]) => (
                  <tr>
                    <td>{vendor}</td>
                    <td>{m.status}</td>
                    <td>{m.release ?? '-'}</td>
                    <td class="num">{m.activationTick ?? '-'}</td>
                    <td class="num">{m.snapshotVersion ?? '-'}</td>
                    <td>
                      {Object.entries(m.groups)
                        .map(([g, d]) => `${g} ${seconds(d.firstDeliveryMs)}`)
                        .join(', ')}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        ))}
        <h2>Groups</h2>
        <table>
          <thead>
            <tr>
              <th>group</th>
              <th class="num">vouched agents</th>
              <th class="num">unvouched (not counted)</th>
              <th>owner keys</th>
              <th class="num">receipts</th>
              <th class="num">polls (node roll-ups)</th>
              <th class="num">staleness p50</th>
              <th class="num">p99</th>
              <th class="num">max</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(report.groups).map(([g, s]) => (
              <tr data-group-row={g}>
                <td>{g}</td>
                <td class="num">{s.vouchedAgents}</td>
                <td class="num">{s.agents - s.vouchedAgents}</td>
                <td>
                  {report.owners[g]
                    ? `from ${report.owners[g].source}, quorum ${report.owners[g].quorum}`
                    : 'none declared'}
                </td>
                <td class="num">{s.receipts}</td>
                <td class="num">{s.polls}</td>
                <td class="num">{s.receipts ? seconds(s.staleness.p50) : '–'}</td>
                <td class="num">{s.receipts ? seconds(s.staleness.p99) : '–'}</td>
                <td class="num">{s.receipts ? seconds(s.staleness.max) : '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {report.unattributedPolls ? (
          <p class="note" data-testid="unattributed">
            Polls in no group:{' '}
            {Object.entries(report.unattributedPolls)
              .map(([b, n]) => `${b} ${n} (${BUCKET_MEANING[b] ?? 'a roll-up bucket'})`)
              .join('; ')}
            .
          </p>
        ) : null}
        <h2>Evidence</h2>
        <table data-testid="evidence">
          <thead>
            <tr>
              <th>receipts from</th>
              <th class="num">receipts</th>
              <th class="num">agents</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(report.evidence ?? {}).map(([source, e]) => (
              <tr data-source={source}>
                <td>{source}</td>
                <td class="num">{e.receipts}</td>
                <td class="num">{e.agents}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <h2>Findings ({report.findings.length})</h2>
        {report.findings.length === 0 ? <p class="note">None.</p> : null}
        {report.findings.map((f) => (
          <FindingBox f={f} />
        ))}
      </body>
    </html>
  );
}

export async function renderReportHtml(
  report: FairnessReport,
  title: string,
  subtitle: string,
  checkpoint?: CheckpointView | null,
): Promise<string> {
  return `<!doctype html>${await (
    <ReportPage report={report} title={title} subtitle={subtitle} checkpoint={checkpoint} />
  ).toString()}`;
}
