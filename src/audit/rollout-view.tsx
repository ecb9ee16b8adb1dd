import type { ReleaseReport, RolloutReport } from './report.js';

// A staged release in the report: per stage and group, who the lottery made eligible (recomputed by
// the auditor), how many signed they were, installed and failed, and the group's parity with the plan.

type Row = RolloutReport['stages'][number]['groups'][string];

const parityOf = (g: Row): string =>
  g.within === undefined
    ? 'no salt: cannot check'
    : `${g.within ? 'within' : 'OUTSIDE'} 4σ (${(g.deviation ?? 0) >= 0 ? '+' : ''}${Number.isFinite(g.deviation) ? (g.deviation ?? 0).toFixed(1) : String(g.deviation)}σ)`;

const saltOf = (r: RolloutReport): string =>
  !r.salt
    ? 'salt not verified'
    : r.salt.operatorChosen
      ? `salt from checkpoint ${r.salt.checkpoint}, chosen by the operator (no witness)`
      : `salt from checkpoint ${r.salt.checkpoint}, cosigned by ${r.salt.witnesses.join(', ')}`;

/** The lines `fairpatch audit` prints for a staged release. */
export function rolloutLines(release: ReleaseReport): string[] {
  const r = release.rollout;
  if (!r) return [];
  const lines = [`    staged ${r.release}: ${r.plan}; ${saltOf(r)}`];
  for (const s of r.stages)
    for (const [group, g] of Object.entries(s.groups).sort(([a], [b]) => a.localeCompare(b)))
      lines.push(
        `      stage ${s.stage + 1} (${s.percent_bp / 100}%, tick ${s.tick}) ${group}: ${g.eligible ?? '?'} of ${g.agents} vouched agents eligible (${g.expected?.toFixed(1) ?? '?'} expected), ${g.claimedEligible} signed eligible, ${g.installed} installed, ${g.failed} failed; ${parityOf(g)}${g.late ? `; ${g.late} enrolled after the salt, not counted` : ''}`,
      );
  return lines;
}

/** The same as a table for the HTML report and the dashboard. */
export function RolloutSection({ release }: { release: ReleaseReport }) {
  const r = release.rollout;
  if (!r) return null;
  return (
    <section data-rollout={r.release}>
      <h2>
        Staged rollout {r.release}: {r.plan}
      </h2>
      <p class="note">{saltOf(r)}</p>
      <table>
        <thead>
          <tr>
            <th>stage</th>
            <th>group</th>
            <th class="num">vouched agents</th>
            <th class="num">eligible</th>
            <th class="num">expected</th>
            <th class="num">signed eligible</th>
            <th class="num">installed</th>
            <th class="num">failed</th>
            <th>parity</th>
          </tr>
        </thead>
        <tbody>
          {r.stages.flatMap((s) =>
            Object.entries(s.groups)
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([group, g]) => (
                <tr data-stage={String(s.stage)} data-group={group}>
                  <td>
                    {s.stage + 1} ({s.percent_bp / 100}%, tick {s.tick})
                  </td>
                  <td>{group}</td>
                  <td class="num">{g.agents}</td>
                  <td class="num">{g.eligible ?? '–'}</td>
                  <td class="num">{g.expected?.toFixed(1) ?? '–'}</td>
                  <td class="num">{g.claimedEligible}</td>
                  <td class="num">{g.installed}</td>
                  <td class="num">{g.failed}</td>
                  <td>{parityOf(g)}</td>
                </tr>
              )),
          )}
        </tbody>
      </table>
    </section>
  );
}
