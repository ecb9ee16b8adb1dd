import type { RolloutPlan } from '../common/rollout-plan.js';

// When each stage opens: a function of the signed plan, the release's activation tick, the tick
// length and the logged control actions, and of nothing about any group. Every agent, node and
// auditor computes the same ticks from the same bytes, so a stage opens at one tick for everyone.

/** A vendor's control action on a rollout, effective at one tick for every group. */
export interface RolloutAction {
  action: 'pause' | 'resume' | 'advance';
  tick: number;
}

export interface StageOpening {
  /** Index into plan.stages. */
  stage: number;
  tick: number;
}

export interface Timeline {
  openings: StageOpening[];
  /** Ticks from which no further stage opens, until the matching resume (absent: still paused). */
  pauses: Array<{ from: number; to?: number }>;
}

/** Ticks after the release's tick at which a stage is due (rounded up: never a tick early). */
export function dueTicks(afterS: number, tickMs: number): number {
  return Math.ceil((afterS * 1000) / tickMs);
}

/**
 * Replays the plan and the actions in tick order. A stage due at tick t opens at t unless the rollout
 * is paused then; a pause keeps the time left to the next stage, and a resume starts that time again;
 * an advance opens the next stage at its tick (and the time to the one after runs from there). Actions
 * before the release's tick count from that tick; actions at one tick apply in the order given.
 */
export function timeline(
  plan: RolloutPlan,
  releaseTick: number,
  tickMs: number,
  actions: readonly RolloutAction[] = [],
): Timeline {
  const last = plan.stages.length - 1;
  const gap = (k: number): number =>
    dueTicks(plan.stages[k]!.after_s, tickMs) - dueTicks(plan.stages[k - 1]!.after_s, tickMs);
  const openings: StageOpening[] = [{ stage: 0, tick: releaseTick }];
  const pauses: Timeline['pauses'] = [];
  let stage = 0;
  let next = last > 0 ? releaseTick + gap(1) : Infinity;
  let paused: { left: number } | undefined;
  const open = (tick: number): void => {
    stage++;
    openings.push({ stage, tick });
    next = stage < last ? tick + gap(stage + 1) : Infinity;
  };
  const sorted = actions
    .map((a, i) => ({ ...a, tick: Math.max(a.tick, releaseTick), i }))
    .sort((a, b) => a.tick - b.tick || a.i - b.i);
  for (const a of sorted) {
    while (!paused && next < a.tick) open(next);
    if (a.action === 'pause' && !paused) {
      paused = { left: Math.max(0, next - a.tick) };
      pauses.push({ from: a.tick });
    } else if (a.action === 'resume' && paused) {
      next = a.tick + paused.left;
      paused = undefined;
      pauses[pauses.length - 1]!.to = a.tick;
    } else if (a.action === 'advance' && stage < last) {
      open(a.tick);
      if (paused) paused = { left: next - a.tick };
    }
  }
  while (!paused && Number.isFinite(next)) open(next);
  return { openings, pauses };
}

/** The stage in force at `tick` (undefined before the release's tick). */
export function stageAt(line: Timeline, tick: number): StageOpening | undefined {
  let found: StageOpening | undefined;
  for (const o of line.openings) if (o.tick <= tick) found = o;
  return found;
}

/** Whether the rollout is paused at `tick`. */
export function pausedAt(line: Timeline, tick: number): boolean {
  return line.pauses.some((p) => p.from <= tick && (p.to === undefined || tick < p.to));
}

/**
 * The control actions of one release among a vendor's verified targets: each a target whose facts
 * name the release's product and version and carry `rollout_action`, effective at the first tick at
 * or after its `release_at` (when its metadata went live, for everyone). Ordered by tick, then path.
 */
export function actionsOf(
  targets: Iterable<[string, { custom?: object | undefined }]>,
  release: { product: string; version: string },
  tickOf: (releaseAtMs: number) => number,
): RolloutAction[] {
  const found: Array<RolloutAction & { path: string }> = [];
  for (const [path, info] of targets) {
    const c = info.custom as
      | {
          product?: string;
          version?: string;
          release_at?: string;
          rollout_action?: { action?: string };
        }
      | undefined;
    const action = c?.rollout_action?.action;
    if (c?.product !== release.product || c.version !== release.version) continue;
    if (action !== 'pause' && action !== 'resume' && action !== 'advance') continue;
    found.push({ action, tick: tickOf(Date.parse(c.release_at ?? '')), path });
  }
  return found
    .sort((a, b) => a.tick - b.tick || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map(({ action, tick }) => ({ action, tick }));
}
