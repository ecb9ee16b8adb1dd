import { describe, expect, it } from 'vitest';
import { effectivePlan, rolloutPlanSchema } from '../../src/common/rollout-plan.js';
import {
  describePlan,
  manifestRolloutSchema,
  parseStagesFlag,
  signedPlan,
} from '../../src/rollout/plan.js';
import { errorCode } from '../helpers/errors.js';

const three = manifestRolloutSchema.parse({
  stages: [
    { percent: 1, after: '0s' },
    { percent: 10, after: '1h' },
    { percent: 100, after: '6h' },
  ],
  pause_on: { failures: 5 },
});

describe('rollout plans', () => {
  it('a manifest plan becomes the integer form the vendor signs', () => {
    expect(signedPlan(three, 'high')).toEqual({
      v: 1,
      stages: [
        { percent_bp: 100, after_s: 0 },
        { percent_bp: 1000, after_s: 3600 },
        { percent_bp: 10000, after_s: 21600 },
      ],
      pause_on: { failures: 5 },
    });
    expect(describePlan(signedPlan(three, 'high'))).toBe('1% at +0s, 10% at +1h, 100% at +6h');
  });

  it('a pause on a share of reports is refused, not signed and ignored', () => {
    const withShare = { stages: three.stages, pause_on: { failures: 5, share: 2.5 } };
    expect(manifestRolloutSchema.safeParse(withShare).success).toBe(false);
    const signed = { v: 1, stages: [{ percent_bp: 10000, after_s: 0 }] };
    expect(rolloutPlanSchema.safeParse({ ...signed, pause_on: { failures: 5 } }).success).toBe(
      true,
    );
    expect(
      rolloutPlanSchema.safeParse({ ...signed, pause_on: { failures: 5, share_bp: 250 } }).success,
    ).toBe(false);
  });

  it('--stages 1%,10%@1h,100%@6h is the same plan as the manifest writes it', () => {
    expect(parseStagesFlag('1%,10%@1h,100%@6h')).toEqual(three.stages);
    expect(parseStagesFlag('0.5%,100%@90m')).toEqual([
      { percent: 0.5, after: '0s' },
      { percent: 100, after: '90m' },
    ]);
  });

  it.each(['', '1', '1%,10%', '101%', '0%', '1%,,100%@1h', 'x%@1h', '1%,100%@1y', '1.234%'])(
    '--stages %j is refused with MANIFEST_INVALID',
    (text) => expect(errorCode(() => parseStagesFlag(text))).toBe('MANIFEST_INVALID'),
  );

  it.each([
    [[{ percent: 10, after: '0s' }], 'the last stage reaches everyone'],
    [
      [
        { percent: 10, after: '1h' },
        { percent: 100, after: '2h' },
      ],
      'first stage opens at the release tick',
    ],
    [[{ percent: 50 }, { percent: 10, after: '1h' }, { percent: 100, after: '2h' }], 'more agents'],
    [[{ percent: 1 }, { percent: 10, after: '2h' }, { percent: 100, after: '1h' }], 'opens later'],
  ])('a plan that cannot be meant is refused: %j', (stages, why) => {
    const rollout = manifestRolloutSchema.parse({ stages });
    expect(() => signedPlan(rollout, 'high')).toThrow(why);
  });

  it('a critical release is one stage unless the vendor asks otherwise, explicitly', () => {
    expect(errorCode(() => signedPlan(three, 'critical'))).toBe('MANIFEST_INVALID');
    const asked = manifestRolloutSchema.parse({ ...three, allow_critical_staging: true });
    expect(signedPlan(asked, 'critical').stages).toHaveLength(3);
    // Signed metadata that stages a critical fix without asking is read as one stage by every party.
    const plan = signedPlan(three, 'high');
    expect(effectivePlan(plan, 'critical')!.stages).toEqual([{ percent_bp: 10000, after_s: 0 }]);
    expect(effectivePlan(plan, 'high')).toBe(plan);
    expect(effectivePlan(undefined, 'high')).toBeUndefined();
  });

  it('the signed form refuses floats, unknown fields and plans out of order', () => {
    const ok = signedPlan(three, 'high');
    expect(rolloutPlanSchema.safeParse(ok).success).toBe(true);
    const bad = [
      { ...ok, stages: [{ percent_bp: 100.5, after_s: 0 }, ok.stages[2]] },
      { ...ok, extra: 1 },
      { ...ok, stages: [...ok.stages].reverse() },
      { ...ok, stages: Array.from({ length: 17 }, (_, i) => ({ percent_bp: i + 1, after_s: i })) },
      { ...ok, allow_critical_staging: false },
    ];
    for (const plan of bad)
      expect(rolloutPlanSchema.safeParse(plan).success, JSON.stringify(plan)).toBe(false);
  });
});
