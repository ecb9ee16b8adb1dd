import { MAX_PAUSE_FAILURES, type RolloutPlan } from '../common/rollout-plan.js';
import { type SignedInstallReport, verifyInstallReport } from '../common/install-report.js';
import { BoundedCache } from '../common/bounded-cache.js';

// The automatic pause of a staged release (docs/design.md, "Staged rollout"): once as many distinct
// agent keys an owner vouched for have signed that the release failed to install as the plan's
// `pause_on.failures`, the node logs a `rollout.auto-paused` leaf carrying exactly those signed
// reports, effective at one tick for every group. Agents and the auditor replay it as a pause; the
// auditor recounts its reports and flags one they do not justify. Reports no one vouches for are
// counted apart and never pause anything.

/** Releases a node tallies at once: older tallies are let go (a forgotten key is counted again). */
const MAX_RELEASES = 1_000;

export interface ReleaseTally {
  /** The first failure each vouched key signed: one key counts once per release. */
  vouched: Map<string, SignedInstallReport>;
  /** Failures from keys no one vouches for: counted, bounded, never a reason to pause. */
  unvouched: number;
  /** Set once the threshold was met: nothing more is collected. */
  paused: boolean;
}

/**
 * What a node holds of failure reports: per release, each vouched key's first failure, up to the
 * plan's threshold (at most MAX_PAUSE_FAILURES), and a number for the unvouched. Memory is bounded by
 * MAX_RELEASES × MAX_PAUSE_FAILURES reports whatever agents send.
 */
export class FailureTally {
  private readonly releases = new BoundedCache<string, ReleaseTally>(MAX_RELEASES);

  /**
   * Counts one verified failure report for `release` and returns the reports that justify a pause
   * when this one makes the vouched count reach `threshold` (once per release), else undefined.
   */
  add(
    release: string,
    signed: SignedInstallReport,
    vouched: boolean,
    threshold: number,
  ): SignedInstallReport[] | undefined {
    let tally = this.releases.get(release);
    if (!tally)
      this.releases.set(release, (tally = { vouched: new Map(), unvouched: 0, paused: false }));
    if (tally.paused) return undefined;
    if (!vouched) {
      tally.unvouched = Math.min(tally.unvouched + 1, Number.MAX_SAFE_INTEGER);
      return undefined;
    }
    if (tally.vouched.has(signed.report.agent)) return undefined;
    tally.vouched.set(signed.report.agent, signed);
    if (tally.vouched.size < Math.min(threshold, MAX_PAUSE_FAILURES)) return undefined;
    tally.paused = true;
    const reports = [...tally.vouched.values()];
    tally.vouched.clear();
    return reports;
  }

  /** A release's counts so far (for tests and the operator). */
  counts(release: string): { vouched: number; unvouched: number; paused: boolean } {
    const t = this.releases.get(release);
    return {
      vouched: t?.vouched.size ?? 0,
      unvouched: t?.unvouched ?? 0,
      paused: t?.paused ?? false,
    };
  }

  /** Forgets that a release paused (its leaf could not be logged): the next failure tries again. */
  reopen(release: string, reports: readonly SignedInstallReport[]): void {
    const tally = this.releases.get(release);
    if (!tally) return;
    tally.paused = false;
    for (const r of reports) tally.vouched.set(r.report.agent, r);
  }
}

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
