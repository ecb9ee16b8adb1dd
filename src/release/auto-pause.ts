import type { SignedInstallReport } from '../common/install-report.js';
import { BoundedCache } from '../common/bounded-cache.js';
import { MAX_PAUSE_FAILURES, type RolloutPlan, effectivePlan } from '../common/rollout-plan.js';
import type { Db } from '../db/schema.js';
import { pauseThreshold } from '../rollout/auto-pause.js';
import { releaseId } from '../rollout/lottery.js';
import { activeAt } from '../serving/view.js';
import type { Evidence } from './evidence.js';
import type { Repository } from './repository.js';

/** Releases whose unvouched failures a node counts at once (a number for the operator, nothing more). */
const MAX_UNVOUCHED_RELEASES = 1_000;

/**
 * The node's side of the automatic pause (src/rollout/auto-pause.ts): each agent-signed failure
 * report of a staged release that is live is tallied per key; when the keys an owner vouched for
 * reach the plan's `pause_on.failures`, the node logs the pause with those reports, effective at the
 * next tick for every group. Keys no one vouches for are counted apart and never pause a fix.
 *
 * The vouched tally lives in the database (`auto_pause_failures`, one row per release and key), so
 * it survives a restart and every node of one database adds to the same count; the pause leaf's
 * dedupe key makes two nodes that cross the threshold at once log one pause.
 */
export class AutoPause {
  /** Releases this node saw logged as paused: nothing more is collected for them. */
  private readonly paused = new BoundedCache<string, true>(MAX_UNVOUCHED_RELEASES);
  private readonly unvouched = new BoundedCache<string, number>(MAX_UNVOUCHED_RELEASES);

  constructor(
    private readonly repo: Repository,
    private readonly evidence: Evidence,
    private readonly db: Db,
    /** Whether an owner the operator declared vouches for the key in the group (the intake's memory). */
    private readonly vouched: (agent: string, group: string) => boolean,
  ) {}

  /** Takes one verified report; resolves once a pause it triggered is in the log. */
  async report(signed: SignedInstallReport): Promise<void> {
    const r = signed.report;
    if (r.outcome !== 'failed') return;
    const staged = this.stagedRelease(r.product, r.version);
    const threshold = staged && pauseThreshold(staged.plan);
    if (!staged || threshold === undefined || this.paused.get(staged.release)) return;
    if (!this.vouched(r.agent, r.group)) {
      const n = this.unvouched.get(staged.release) ?? 0;
      this.unvouched.set(staged.release, Math.min(n + 1, Number.MAX_SAFE_INTEGER));
      return;
    }
    const reports = await this.tally(
      staged.release,
      signed,
      Math.min(threshold, MAX_PAUSE_FAILURES),
    );
    if (!reports) return;
    // Not logged (the database was away): not paused, and the stored tally lets the next failure
    // report, on any node, try again. Logged already by another node: the dedupe key keeps one.
    await this.evidence.autoPaused({
      type: 'rollout.auto-paused',
      v: 1,
      release: staged.release,
      vendor: staged.vendor,
      tick: this.repo.currentTick() + 1,
      threshold,
      reports,
    });
    this.paused.set(staged.release, true);
  }

  /**
   * Stores the key's first failure of `release` (a key counts once: the primary key) unless the
   * tally already holds `limit` keys, and returns the first `limit` stored reports once there are
   * that many. Rows per release stay at `limit`, plus at most one per report racing past the count.
   */
  private async tally(
    release: string,
    signed: SignedInstallReport,
    limit: number,
  ): Promise<SignedInstallReport[] | undefined> {
    if ((await this.vouchedCount(release)) < limit)
      await this.db
        .insertInto('auto_pause_failures')
        .values({
          release,
          agent: signed.report.agent,
          report: JSON.stringify(signed),
          created_at: this.repo.clock.now(),
        })
        .onConflict((oc) => oc.columns(['release', 'agent']).doNothing())
        .execute();
    const rows = await this.db
      .selectFrom('auto_pause_failures')
      .select('report')
      .where('release', '=', release)
      .orderBy('created_at')
      .orderBy('agent')
      .limit(limit)
      .execute();
    if (rows.length < limit) return undefined;
    return rows.map((row) => JSON.parse(row.report) as SignedInstallReport);
  }

  private async vouchedCount(release: string): Promise<number> {
    const row = await this.db
      .selectFrom('auto_pause_failures')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('release', '=', release)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** The release's counts so far: vouched keys from the shared tally, unvouched from this node. */
  async counts(release: string): Promise<{ vouched: number; unvouched: number; paused: boolean }> {
    return {
      vouched: await this.vouchedCount(release),
      unvouched: this.unvouched.get(release) ?? 0,
      paused: this.paused.get(release) ?? false,
    };
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
