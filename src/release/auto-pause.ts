import type { SignedInstallReport } from '../common/install-report.js';
import { type RolloutPlan, effectivePlan } from '../common/rollout-plan.js';
import { FailureTally, pauseThreshold } from '../rollout/auto-pause.js';
import { releaseId } from '../rollout/lottery.js';
import { activeAt } from '../serving/view.js';
import type { Evidence } from './evidence.js';
import type { Repository } from './repository.js';

/**
 * The node's side of the automatic pause (src/rollout/auto-pause.ts): each agent-signed failure
 * report of a staged release that is live is tallied per key; when the keys an owner vouched for
 * reach the plan's `pause_on.failures`, the node logs the pause with those reports, effective at the
 * next tick for every group. Keys no one vouches for are tallied apart and never pause a fix.
 */
export class AutoPause {
  private readonly tally = new FailureTally();

  constructor(
    private readonly repo: Repository,
    private readonly evidence: Evidence,
    /** Whether an owner the operator declared vouches for the key in the group (the intake's memory). */
    private readonly vouched: (agent: string, group: string) => boolean,
  ) {}

  /** Takes one verified report; resolves once a pause it triggered is in the log. */
  async report(signed: SignedInstallReport): Promise<void> {
    const r = signed.report;
    if (r.outcome !== 'failed') return;
    const staged = this.stagedRelease(r.product, r.version);
    const threshold = staged && pauseThreshold(staged.plan);
    if (!staged || threshold === undefined) return;
    const reports = this.tally.add(
      staged.release,
      signed,
      this.vouched(r.agent, r.group),
      threshold,
    );
    if (!reports) return;
    try {
      await this.evidence.autoPaused({
        type: 'rollout.auto-paused',
        v: 1,
        release: staged.release,
        vendor: staged.vendor,
        tick: this.repo.currentTick() + 1,
        threshold,
        reports,
      });
    } catch (error) {
      // Not logged, so not paused: the next failure report tries again.
      this.tally.reopen(staged.release, reports);
      throw error;
    }
  }

  /** The release's counts so far. */
  counts(release: string): ReturnType<FailureTally['counts']> {
    return this.tally.counts(release);
  }

  /** The live staged release of this product and version, from the vendor metadata served now. */
  private stagedRelease(
    product: string,
    version: string,
  ): { release: string; vendor: string; plan: RolloutPlan } | undefined {
    const view = this.repo.view;
    const now = this.repo.currentTick();
    for (const [vendor, versions] of view.state.vendors) {
      const active = activeAt(versions, now);
      if (!active?.bytes) continue;
      for (const info of view.targetsOf(active).values()) {
        const facts = info.custom;
        if (facts?.product !== product || facts.version !== version || !facts.rollout) continue;
        const plan = effectivePlan(facts.rollout, facts.severity);
        if (!plan || plan.stages.length < 2) return undefined;
        return { release: releaseId(vendor, product, version), vendor, plan };
      }
    }
    return undefined;
  }
}
