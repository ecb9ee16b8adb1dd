import { describe, expect, it } from 'vitest';
import type { RolloutPlan } from '../../src/common/rollout-plan.js';
import { pausedAt, stageAt, timeline } from '../../src/rollout/stages.js';

// 1 %, then 10 % an hour later, then everyone at six hours; ticks of 1 s.
const plan: RolloutPlan = {
  v: 1,
  stages: [
    { percent_bp: 100, after_s: 0 },
    { percent_bp: 1000, after_s: 3600 },
    { percent_bp: 10000, after_s: 21600 },
  ],
};
const T0 = 1000;

describe('stage timing', () => {
  it('stage k opens at the release tick + after_k, and nothing else decides it', () => {
    const line = timeline(plan, T0, 1000);
    expect(line.openings).toEqual([
      { stage: 0, tick: T0 },
      { stage: 1, tick: T0 + 3600 },
      { stage: 2, tick: T0 + 21600 },
    ]);
    expect(stageAt(line, T0 - 1)).toBeUndefined();
    expect(stageAt(line, T0 + 3599)!.stage).toBe(0);
    expect(stageAt(line, T0 + 3600)!.stage).toBe(1);
    expect(stageAt(line, T0 + 10 ** 9)!.stage).toBe(2);
  });

  it('a stage due inside a tick opens at the next tick start, never early', () => {
    expect(timeline(plan, T0, 7000).openings.map((o) => o.tick)).toEqual([
      T0,
      T0 + Math.ceil(3600 / 7),
      T0 + Math.ceil(21600 / 7),
    ]);
  });

  it('a pause holds the next stage; a resume restarts the time that was left', () => {
    const line = timeline(plan, T0, 1000, [
      { action: 'pause', tick: T0 + 600 },
      { action: 'resume', tick: T0 + 10_000 },
    ]);
    expect(line.openings).toEqual([
      { stage: 0, tick: T0 },
      { stage: 1, tick: T0 + 10_000 + 3000 },
      { stage: 2, tick: T0 + 13_000 + 18000 },
    ]);
    expect(pausedAt(line, T0 + 599)).toBe(false);
    expect(pausedAt(line, T0 + 600)).toBe(true);
    expect(pausedAt(line, T0 + 10_000)).toBe(false);
  });

  it('a pause never resumed opens nothing more; a pause at the due tick wins over the stage', () => {
    const line = timeline(plan, T0, 1000, [{ action: 'pause', tick: T0 + 3600 }]);
    expect(line.openings).toEqual([{ stage: 0, tick: T0 }]);
    expect(pausedAt(line, T0 + 10 ** 7)).toBe(true);
  });

  it('an advance opens the next stage at its tick, and the following one counts from there', () => {
    const line = timeline(plan, T0, 1000, [{ action: 'advance', tick: T0 + 60 }]);
    expect(line.openings).toEqual([
      { stage: 0, tick: T0 },
      { stage: 1, tick: T0 + 60 },
      { stage: 2, tick: T0 + 60 + 18000 },
    ]);
    // Advancing past the last stage, or pausing twice, changes nothing.
    const more = timeline(plan, T0, 1000, [
      { action: 'advance', tick: T0 + 1 },
      { action: 'advance', tick: T0 + 2 },
      { action: 'advance', tick: T0 + 3 },
    ]);
    expect(more.openings.map((o) => o.tick)).toEqual([T0, T0 + 1, T0 + 2]);
  });

  it('actions before the release tick count from it; the order of actions at one tick is kept', () => {
    const early = timeline(plan, T0, 1000, [{ action: 'pause', tick: 5 }]);
    expect(early.pauses).toEqual([{ from: T0 }]);
    const sameTick = timeline(plan, T0, 1000, [
      { action: 'pause', tick: T0 + 10 },
      { action: 'resume', tick: T0 + 10 },
    ]);
    expect(sameTick.openings.map((o) => o.tick)).toEqual([T0, T0 + 3600, T0 + 21600]);
  });
});
