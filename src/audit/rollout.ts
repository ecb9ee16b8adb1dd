import {
  FULL_BP,
  type RolloutPlan,
  effectivePlan,
  rolloutPlanSchema,
} from '../common/rollout-plan.js';
import { tickAt } from '../common/tick.js';
import type { LeafOf } from '../log/leaves.js';
import { countVouchedFailures, pauseThreshold } from '../rollout/auto-pause.js';
import { cohort, inShare, releaseId } from '../rollout/lottery.js';
import { groupParity } from '../rollout/parity.js';
import { describePlan } from '../rollout/plan.js';
import { type RolloutAction, actionsOf, stageAt, timeline } from '../rollout/stages.js';
import type { Seen } from './observations.js';
import type { AuditOptions, Finding, ReleaseReport, RolloutReport } from './report.js';
import { corroborate } from './testimony.js';

// The audit of a staged release (docs/design.md, "Staged rollout"). Everything that decides who is
// eligible is signed: the plan (vendor), the stage ticks (the plan and the activation tick, logged),
// the salt (the witnesses' cosignatures on a log checkpoint) and the agent keys (their owners'
// certificates). So the auditor recomputes every vouched agent's eligibility itself, checks each
// group's eligible count against the plan's share (4σ), and holds the agents' own signed account of
// what they computed against it: a vouched agent told an earlier stage, or denied its turn, testifies.

/** A release's salt as the auditor verified it (src/rollout/evidence.ts), or why it could not. */
export type AuditedSalt =
  { salt: Buffer; size: number; witnesses: string[]; operatorChosen: boolean } | { error: string };

/** The staged plan a release's own targets carry, with its release id; undefined when not staged. */
export function stagedPlanOf(
  vendor: string,
  metadata: string,
  targets: readonly string[],
):
  | {
      release: string;
      plan: RolloutPlan;
      target: string;
      sha256: string;
      product: string;
      version: string;
    }
  | undefined {
  let signed: {
    targets?: Record<string, { hashes?: { sha256?: string }; custom?: Record<string, unknown> }>;
  };
  try {
    signed = (JSON.parse(metadata) as { signed: typeof signed }).signed ?? {};
  } catch {
    return undefined;
  }
  for (const path of targets) {
    const info = signed.targets?.[path];
    const parsed = rolloutPlanSchema.safeParse(info?.custom?.rollout);
    if (!info || !parsed.success) continue;
    const plan = effectivePlan(parsed.data, String(info.custom?.severity));
    if (!plan || plan.stages.length < 2) return undefined;
    return {
      release: releaseId(vendor, String(info.custom?.product), String(info.custom?.version)),
      plan,
      target: path,
      sha256: String(info.hashes?.sha256),
      product: String(info.custom?.product),
      version: String(info.custom?.version),
    };
  }
  return undefined;
}

export function rolloutAudit(input: {
  report: ReleaseReport;
  vendor: string;
  metadata: string;
  activationTick: number;
  clock: { epochMs: number; tickMs: number };
  now: number;
  seen: readonly Seen[];
  salts: ReadonlyMap<string, AuditedSalt>;
  /** The vendor's activated metadata in log order, each with its tick: where its controls are. */
  vendorActivations?: ReadonlyArray<{ tick: number; metadata: string }>;
  /** The log's automatic pauses (any release's): replayed as pauses, their evidence recounted. */
  autoPauses?: ReadonlyArray<{ index: number; leaf: LeafOf<'rollout.auto-paused'> }>;
  /** Whether a key was vouched for a group at a time (the owners' certificates the audit holds). */
  vouchedAt?: (group: string, agent: string, at: number) => boolean;
  /**
   * The log index of the key's first certificate in the log (-1: pinned by the auditor; undefined:
   * not in the log). Parity counts only keys logged before the salt's checkpoint.
   */
  enrolledAt?: (group: string, agent: string) => number | undefined;
  options: AuditOptions;
  quorumOf: (group: string) => number;
}): { rollout?: RolloutReport; findings: Finding[] } {
  const { report } = input;
  const staged = stagedPlanOf(input.vendor, input.metadata, report.targets);
  if (!staged) return { findings: [] };
  const { release, plan } = staged;
  const findings: Finding[] = [];
  // The vendor's pause, resume and advance: control targets, each effective at the tick the
  // metadata that first carried it went live (for everyone at once).
  const actions: RolloutAction[] = [];
  const seenPaths = new Set<string>();
  for (const a of input.vendorActivations ?? []) {
    if (a.tick < input.activationTick) continue;
    let targets: Record<string, { custom?: Record<string, unknown> }>;
    try {
      targets =
        (JSON.parse(a.metadata) as { signed?: { targets?: typeof targets } }).signed?.targets ?? {};
    } catch {
      continue;
    }
    const fresh = Object.entries(targets).filter(([path]) => !seenPaths.has(path));
    for (const [path] of fresh) seenPaths.add(path);
    actions.push(...actionsOf(fresh, staged, () => a.tick));
  }
  const base = { release: report.id, evidence: { rollout: release } };
  const paused = autoPauseFindings(input, staged, base);
  actions.push(...paused.actions);
  findings.push(...paused.findings);
  const line = timeline(plan, input.activationTick, input.clock.tickMs, actions);
  const nowTick = tickAt(input.clock, input.now);
  const audited = input.salts.get(release);
  const salt = audited && 'salt' in audited ? audited : undefined;
  if (!salt)
    findings.push({
      ...base,
      kind: 'rollout-salt-unverified',
      class: 'cannot-verify',
      unfair: false,
      message: `the lottery salt of ${release} could not be verified (${audited && 'error' in audited ? audited.error : 'not fetched'}): who was eligible cannot be checked`,
    });
  else if (salt.operatorChosen)
    findings.push({
      ...base,
      kind: 'rollout-salt-operator-chosen',
      class: 'cannot-verify',
      unfair: false,
      message: `the lottery salt of ${release} is the operator's own log signature (no witness cosigned it): the operator could have chosen it, so parity of selection cannot be verified`,
    });

  // Vouched agents only: keys no owner vouches for cost nothing and could be picked after the salt.
  // And only those whose certificate the log held before the salt's checkpoint: an owner who knew
  // the salt could grind new keys into the early cohort and enroll them.
  const agentsByGroup = new Map<string, Set<string>>();
  const lateByGroup = new Map<string, Set<string>>();
  for (const s of input.seen) {
    if (!s.vouched) continue;
    const logged = input.enrolledAt?.(s.group, s.agent);
    const late = salt !== undefined && (logged === undefined || logged >= salt.size);
    const into = late ? lateByGroup : agentsByGroup;
    const set = into.get(s.group) ?? new Set<string>();
    set.add(s.agent);
    into.set(s.group, set);
  }
  for (const group of lateByGroup.keys())
    if (!agentsByGroup.has(group)) agentsByGroup.set(group, new Set());
  const groups = [...agentsByGroup.keys()].sort();
  // One hash per agent, however many receipts it signed.
  const cohorts = new Map<string, bigint>();
  const cohortOf = (agent: string): bigint => {
    let c = cohorts.get(agent);
    if (c === undefined) cohorts.set(agent, (c = cohort(release, salt!.salt, agent)));
    return c;
  };
  const inAt = (agent: string, bp: number): boolean =>
    bp >= FULL_BP || (salt !== undefined && inShare(cohortOf(agent), bp));

  const claims = input.seen.filter((s) => s.rollout?.release === release);
  const stages: RolloutReport['stages'] = [];
  for (const opening of line.openings) {
    if (opening.tick > nowTick) break;
    const bp = plan.stages[opening.stage]!.percent_bp;
    const perGroup: RolloutReport['stages'][number]['groups'] = {};
    for (const group of groups) {
      const agents = [...agentsByGroup.get(group)!];
      const atStage = claims.filter(
        (s) => s.group === group && s.rollout!.stage === opening.stage && s.rollout!.eligible,
      );
      const agentsWith = (outcome?: 'installed' | 'failed') =>
        new Set(
          atStage
            .filter((s) => outcome === undefined || s.rollout!.outcome === outcome)
            .map((s) => s.agent),
        ).size;
      const late = lateByGroup.get(group)?.size ?? 0;
      const entry = {
        ...(late > 0 ? { late } : {}),
        claimedEligible: agentsWith(),
        installed: agentsWith('installed'),
        failed: agentsWith('failed'),
      };
      if (!salt && bp < FULL_BP) {
        perGroup[group] = { agents: agents.length, ...entry };
        continue;
      }
      const eligible = agents.filter((a) => inAt(a, bp)).length;
      const parity = groupParity(agents.length, eligible, bp);
      perGroup[group] = { ...parity, ...entry };
      if (!parity.within && salt && !salt.operatorChosen)
        findings.push({
          ...base,
          kind: 'rollout-parity',
          class: 'proof',
          unfair: true,
          group,
          message: `stage ${opening.stage + 1} of ${release} (${bp / 100}%): ${eligible} of ${agents.length} vouched agents of group ${group} were eligible, ${parity.deviation.toFixed(1)}σ from the plan's ${parity.expected.toFixed(1)} (bound 4σ): the lottery was not blind to this group`,
          evidence: {
            rollout: release,
            stage: opening.stage,
            percent_bp: bp,
            ...parity,
            salt_checkpoint: salt.size,
          },
        });
    }
    stages.push({ stage: opening.stage, percent_bp: bp, tick: opening.tick, groups: perGroup });
  }

  // What vouched agents signed that they computed, held against what the signed bytes give.
  const behind: Seen[] = [];
  const denied: Seen[] = [];
  const ahead: Seen[] = [];
  for (const s of claims) {
    const claim = s.rollout!;
    // The stage open when the agent signed (less the staleness tolerance) against the one it was told.
    const open = stageAt(line, tickAt(input.clock, s.lastAt - input.options.maxLagMs));
    // ...and the stage open when it was first served that statement (plus the tolerance): a later
    // stage than that means it was served a statement for a tick still to come.
    const openFirst = stageAt(line, tickAt(input.clock, s.firstAt + input.options.maxLagMs));
    if (open && claim.stage < open.stage) behind.push(s);
    else if (claim.stage > (openFirst?.stage ?? -1)) ahead.push(s);
    else if (
      salt &&
      !claim.eligible &&
      claim.stage >= 0 &&
      inAt(s.agent, plan.stages[claim.stage]!.percent_bp)
    )
      denied.push(s);
  }
  for (const group of [...new Set([...behind, ...denied, ...ahead].map((s) => s.group))].sort()) {
    const early = ahead.filter((s) => s.group === group);
    if (early.length > 0)
      findings.push(
        corroborate({
          kind: 'rollout-stage-ahead',
          group,
          release: report.id,
          list: early,
          quorum: input.quorumOf(group),
          message: (n) =>
            `${n} agents in group ${group} were served a later stage of ${release} than was open for everyone (a statement for a tick still to come)`,
        }),
      );
    const told = behind.filter((s) => s.group === group);
    if (told.length > 0)
      findings.push(
        corroborate({
          kind: 'rollout-stage-behind',
          group,
          release: report.id,
          list: told,
          quorum: input.quorumOf(group),
          message: (n) =>
            `${n} agents in group ${group} were served an earlier stage of ${release} than was open for everyone`,
        }),
      );
    const refused = denied.filter((s) => s.group === group);
    if (refused.length > 0)
      findings.push(
        corroborate({
          kind: 'rollout-denied',
          group,
          release: report.id,
          list: refused,
          quorum: input.quorumOf(group),
          message: (n) =>
            `${n} agents in group ${group} whose cohort was in the open stage of ${release} signed that they were not eligible (the salt withheld, or another one served)`,
        }),
      );
  }
  return {
    rollout: {
      release,
      plan: describePlan(plan),
      ...(salt
        ? {
            salt: {
              checkpoint: salt.size,
              witnesses: salt.witnesses,
              operatorChosen: salt.operatorChosen,
            },
          }
        : {}),
      stages,
    },
    findings,
  };
}

/**
 * The node's automatic pauses of this release: each is replayed as a pause at its tick (agents
 * replayed it so), and its reports recounted: fewer distinct vouched failures than the plan's
 * threshold is an unjustified pause, proof from the leaf itself. Vouched agents that signed, in
 * receipts the log holds, at least the threshold's failures with no pause logged testify to a
 * pause withheld.
 */
function autoPauseFindings(
  input: Parameters<typeof rolloutAudit>[0],
  staged: NonNullable<ReturnType<typeof stagedPlanOf>>,
  base: { release: string; evidence: Record<string, unknown> },
): { actions: RolloutAction[]; findings: Finding[] } {
  const { release, plan } = staged;
  const threshold = pauseThreshold(plan);
  const vouchedAt = input.vouchedAt ?? (() => false);
  const actions: RolloutAction[] = [];
  const findings: Finding[] = [];
  const leaves = (input.autoPauses ?? []).filter(
    (l) => l.leaf.release === release && l.leaf.vendor === input.vendor,
  );
  for (const { index, leaf } of leaves) {
    actions.push({ action: 'pause', tick: leaf.tick });
    const { counted, rejected } = countVouchedFailures(leaf.reports, staged, vouchedAt);
    if (threshold !== undefined && counted >= threshold) continue;
    findings.push({
      ...base,
      kind: 'rollout-auto-pause-unjustified',
      class: 'proof',
      unfair: true,
      message: `the node paused ${release} at tick ${leaf.tick} (leaf ${index}) on ${counted} distinct vouched failure reports${rejected > 0 ? ` (${rejected} more not counted: unsigned, unvouched, repeated or of another release)` : ''}, short of the plan's ${threshold === undefined ? 'absent threshold (it never pauses by itself)' : `threshold of ${threshold}`}: a fix held back for everyone without cause`,
      evidence: { rollout: release, leaf: index, tick: leaf.tick, counted, rejected, threshold },
    });
  }
  if (threshold !== undefined && leaves.length === 0) {
    const failed = new Set(
      input.seen
        .filter(
          (s) => s.vouched && s.rollout?.release === release && s.rollout.outcome === 'failed',
        )
        .map((s) => s.agent),
    );
    if (failed.size >= threshold)
      findings.push({
        ...base,
        kind: 'rollout-auto-pause-missing',
        class: 'testimony',
        unfair: true,
        message: `${failed.size} vouched agents signed that ${release} failed to install (the plan pauses at ${threshold}), and the log holds no automatic pause`,
        evidence: { rollout: release, failed: failed.size, threshold },
      });
  }
  return { actions, findings };
}
