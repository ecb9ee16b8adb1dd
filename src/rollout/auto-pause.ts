import type { RolloutPlan } from '../common/rollout-plan.js';
import { type SignedInstallReport, verifyInstallReport } from '../common/install-report.js';

// The automatic pause of a staged release (docs/design.md, "Staged rollout"): once as many distinct
// agent keys an owner vouched for have signed that the release failed to install as the plan's
// `pause_on.failures`, the node logs a `rollout.auto-paused` leaf carrying exactly those signed
// reports, effective at one tick for every group. Agents and the auditor replay it as a pause; the
// auditor recounts its reports and flags one they do not justify. Reports no one vouches for are
// counted apart and never pause anything. The node's tally is src/release/auto-pause.ts (stored,
// shared by every node of one database).

/** The threshold a plan sets, or undefined when it never pauses by itself. */
export function pauseThreshold(plan: RolloutPlan): number | undefined {
  return plan.pause_on?.failures;
}

/**
 * The auditor's recount of an auto-pause leaf's evidence: distinct agent keys whose report is
 * signed by that key, is a failure of this release's product and version, and whose key was
 * vouched for the report's group when it signed. Anything else in the leaf counts for nothing.
 */
export function countVouchedFailures(
  reports: readonly SignedInstallReport[],
  release: { product: string; version: string },
  vouched: (group: string, agent: string, at: number) => boolean,
): { counted: number; rejected: number } {
  const agents = new Set<string>();
  let rejected = 0;
  for (const signed of reports) {
    const r = signed.report;
    const ok =
      r.outcome === 'failed' &&
      r.product === release.product &&
      r.version === release.version &&
      !agents.has(r.agent) &&
      vouched(r.group, r.agent, Date.parse(r.at)) &&
      verifyInstallReport(signed);
    if (ok) agents.add(r.agent);
    else rejected++;
  }
  return { counted: agents.size, rejected };
}
