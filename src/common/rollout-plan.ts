import { z } from 'zod';

// A staged rollout as the vendor signs it into each target's `custom.rollout` (src/tuf/schema.ts):
// every group is served these same bytes at every tick, so the plan can never differ between groups
// without two signed statements. Integers only (TUF signs canonical JSON, which has no floats): a
// stage's share is in basis points (1 = 0.01 %), its start in seconds after the release's tick.
// Shared by the vendor (builds it), the node (verifies it at staging), the agent (decides its own
// eligibility) and the auditor (checks parity). src/rollout has everything that computes with it.

export const MAX_STAGES = 16;
/** A stage opens at most 90 days after the release's tick (the release horizon). */
export const MAX_STAGE_AFTER_S = 90 * 86_400;
export const FULL_BP = 10_000;
/** The largest `pause_on.failures`: an automatic pause logs every report it counted, in one leaf. */
export const MAX_PAUSE_FAILURES = 10_000;

export const rolloutStageSchema = z.strictObject({
  /** Share of agents eligible from this stage on, basis points (100 = 1 %, 10000 = everyone). */
  percent_bp: z.number().int().min(1).max(FULL_BP),
  /** When the stage opens: seconds after the release's activation tick (the first stage: 0). */
  after_s: z.number().int().min(0).max(MAX_STAGE_AFTER_S),
});

export const rolloutPlanSchema = z
  .strictObject({
    v: z.literal(1),
    stages: z.array(rolloutStageSchema).min(1).max(MAX_STAGES),
    /**
     * Pause automatically once this many install failures, signed by agents an owner vouched for,
     * were reported for the release. Unvouched reports never pause a fix.
     */
    pause_on: z
      .strictObject({
        failures: z.number().int().min(1).max(MAX_PAUSE_FAILURES),
      })
      .optional(),
    /** A critical fix is one stage unless the vendor sets this, on purpose. */
    allow_critical_staging: z.literal(true).optional(),
  })
  .superRefine((plan, ctx) => {
    const { stages } = plan;
    if (stages[0]!.after_s !== 0)
      ctx.addIssue({
        code: 'custom',
        path: ['stages', 0, 'after_s'],
        message: 'the first stage opens at the release tick (after 0s)',
      });
    if (stages[stages.length - 1]!.percent_bp !== FULL_BP)
      ctx.addIssue({
        code: 'custom',
        path: ['stages', stages.length - 1, 'percent_bp'],
        message: 'the last stage reaches everyone (100%)',
      });
    for (let i = 1; i < stages.length; i++) {
      if (stages[i]!.percent_bp <= stages[i - 1]!.percent_bp)
        ctx.addIssue({
          code: 'custom',
          path: ['stages', i, 'percent_bp'],
          message: 'each stage reaches more agents than the one before',
        });
      if (stages[i]!.after_s <= stages[i - 1]!.after_s)
        ctx.addIssue({
          code: 'custom',
          path: ['stages', i, 'after_s'],
          message: 'each stage opens later than the one before',
        });
    }
  });

export type RolloutStage = z.infer<typeof rolloutStageSchema>;
export type RolloutPlan = z.infer<typeof rolloutPlanSchema>;

/** The plan every party acts on: a critical release is one stage unless the vendor asked otherwise. */
export function effectivePlan(
  plan: RolloutPlan | undefined,
  severity: string,
): RolloutPlan | undefined {
  if (!plan) return undefined;
  if (severity === 'critical' && plan.allow_critical_staging !== true)
    return { v: 1, stages: [{ percent_bp: FULL_BP, after_s: 0 }] };
  return plan;
}
