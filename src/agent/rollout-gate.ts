import { FULL_BP, effectivePlan } from '../common/rollout-plan.js';
import { activationTick } from '../common/tick.js';
import { MAX_LEAF_BYTES } from '../log/limits.js';
import { type Verifier, parseVerifierKey } from '../log/note.js';
import { verifySaltEvidence } from '../rollout/evidence.js';
import { cohort, cohortFraction, inShare, releaseId } from '../rollout/lottery.js';
import { verifyPauseEvidence } from '../rollout/pause-evidence.js';
import { type RolloutAction, actionsOf, pausedAt, stageAt, timeline } from '../rollout/stages.js';
import type { PatchFacts, TargetInfo } from '../tuf/metadata.js';
import type { Served } from './observer.js';

// Whether this agent may install a staged release now, decided here from signed bytes alone: the
// vendor's plan (TUF-verified), the tick of the timestamp the node signed, and the release's salt,
// verified against the log key and the pinned witnesses. The server never says who is eligible.

export interface RolloutDecision {
  release: string;
  /** The stage in force (index into the plan), or -1 before the release's tick. */
  stage: number;
  stages: number;
  percent_bp: number;
  eligible: boolean;
  /** The checkpoint size the salt was drawn from (absent: not needed, or not available yet). */
  salt_checkpoint?: number;
  /** Why, in one line, for the agent's log. */
  reason: string;
}

export interface RolloutGateOptions {
  /** The log's verifier key and the witnesses pinned for it (the agent's --log-key, --log-witness). */
  logKey?: string;
  witnesses: readonly string[];
  /** GET /log/rollout-salt for a target, as parsed JSON. */
  fetchEvidence: (target: string) => Promise<unknown>;
  /** GET /log/rollout-pauses for a release, as parsed JSON (absent: automatic pauses not read). */
  fetchPauses?: (release: string) => Promise<unknown>;
}

export class RolloutGate {
  private readonly salts = new Map<string, { salt: Buffer; size: number }>();
  /** The node's automatic pause of a release, once proven (logged once per release, never undone). */
  private readonly autoPauses = new Map<string, RolloutAction[]>();
  private readonly log: Verifier | undefined;
  private readonly witnesses: Verifier[];

  constructor(
    private readonly options: RolloutGateOptions,
    private readonly agentKey: string,
  ) {
    this.log = options.logKey ? parseVerifierKey(options.logKey) : undefined;
    this.witnesses = options.witnesses.map((w) => parseVerifierKey(w));
  }

  /** Undefined when the release is not staged (everyone at its tick). */
  async decide(input: {
    vendor: string;
    facts: PatchFacts;
    target: { path: string; sha256: string };
    served: Served | undefined;
    /** The vendor's verified targets: the release's pause, resume and advance are among them. */
    targets: Iterable<[string, TargetInfo]>;
  }): Promise<RolloutDecision | undefined> {
    const { facts, served } = input;
    const plan = effectivePlan(facts.rollout, facts.severity);
    if (!plan || plan.stages.length === 1) return undefined;
    const release = releaseId(input.vendor, facts.product, facts.version);
    const base = { release, stages: plan.stages.length };
    if (!served?.clock)
      return {
        ...base,
        stage: -1,
        percent_bp: 0,
        eligible: false,
        reason: `${release} is staged, and the served timestamp carries no tick clock`,
      };
    const releaseTick = activationTick(served.clock, Date.parse(facts.release_at));
    const clock = served.clock;
    const autoPauses = plan.pause_on ? await this.autoPaused(release) : [];
    const actions = [
      ...actionsOf(input.targets, facts, (ms) => activationTick(clock, ms)),
      ...autoPauses,
    ];
    const line = timeline(plan, releaseTick, clock.tickMs, actions);
    const now = stageAt(line, served.tick);
    if (!now)
      return {
        ...base,
        stage: -1,
        percent_bp: 0,
        eligible: false,
        reason: `${release} is not released yet`,
      };
    const percent = plan.stages[now.stage]!.percent_bp;
    const stageText = `stage ${now.stage + 1} of ${plan.stages.length} (${percent / 100}%)`;
    const decided = { ...base, stage: now.stage, percent_bp: percent };
    if (percent === FULL_BP)
      return { ...decided, eligible: true, reason: `${release}: ${stageText}, everyone` };
    const salt = await this.salt(release, input.target).catch((error: unknown) => error as Error);
    if (salt instanceof Error)
      return {
        ...decided,
        eligible: false,
        reason: `${release}: ${stageText}; the lottery's salt is not available yet (${salt.message})`,
      };
    const c = cohort(release, salt.salt, this.agentKey);
    const eligible = inShare(c, percent);
    const next = line.openings.find((o) => o.stage === now.stage + 1);
    return {
      ...decided,
      eligible,
      salt_checkpoint: salt.size,
      reason: `${release}: ${stageText}; this agent's cohort ${cohortFraction(c).toFixed(4)} is ${eligible ? 'in' : `not in yet${pausedAt(line, served.tick) ? (autoPauses.some((p) => p.tick <= served.tick) ? '; the rollout is paused (the node paused it on vouched failure reports, or the vendor)' : '; the vendor paused the rollout') : next ? `; the next stage opens at tick ${next.tick}` : ''}`}`,
    };
  }

  /**
   * The node's automatic pause of the release, verified against the log key. Not reachable or not
   * proven: none, and this agent goes on by the plan; a pause hidden from its group is the auditor's
   * finding (the stage it signs is later than the one open for everyone).
   */
  private async autoPaused(release: string): Promise<RolloutAction[]> {
    const known = this.autoPauses.get(release);
    if (known) return known;
    if (!this.log || !this.options.fetchPauses) return [];
    try {
      const actions = verifyPauseEvidence({
        body: await this.options.fetchPauses(release),
        release,
        log: this.log,
      });
      if (actions.length > 0) this.autoPauses.set(release, actions);
      return actions;
    } catch {
      return [];
    }
  }

  private async salt(release: string, target: { path: string; sha256: string }) {
    const known = this.salts.get(release);
    if (known) return known;
    if (!this.log) throw new Error('no --log-key to verify it with');
    const verified = verifySaltEvidence({
      body: await this.options.fetchEvidence(target.path),
      release,
      target,
      log: this.log,
      witnesses: this.witnesses,
    });
    const kept = { salt: verified.salt, size: verified.size };
    this.salts.set(release, kept);
    return kept;
  }
}

/** The most an agent reads of salt evidence: the activation leaf, JSON-escaped, and the proofs. */
export const MAX_SALT_EVIDENCE_BYTES = 2 * MAX_LEAF_BYTES + 1024 * 1024;
