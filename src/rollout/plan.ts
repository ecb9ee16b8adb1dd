import { z } from 'zod';
import { durationMs } from '../common/duration.js';
import {
  FULL_BP,
  MAX_PAUSE_FAILURES,
  MAX_STAGES,
  type RolloutPlan,
  rolloutPlanSchema,
} from '../common/rollout-plan.js';
import { FairpatchError } from '../errors.js';

// The vendor's side of a staged rollout: the plan as a manifest writes it ("percent": 1,
// "after": "1h") or as `fairpatch publish --stages 1%,10%@1h,100%@6h` writes it, turned into the
// integer form the vendor signs (src/common/rollout-plan.ts), which every other party reads.

/** A share of agents in percent, at most two decimals (0.01 % is one basis point). */
const percent = z
  .number()
  .gt(0)
  .max(100)
  .refine((p) => Math.abs(p * 100 - Math.round(p * 100)) < 1e-9, 'percent: at most two decimals');

const after = z
  .string()
  .refine(
    (s) => durationMs(s) !== undefined && durationMs(s)! % 1000 === 0,
    'after: a duration in whole seconds such as 0s, 90m, 6h, 2d',
  );

/** `rollout` in a manifest (manifests/schema.json). */
export const manifestRolloutSchema = z.strictObject({
  stages: z
    .array(z.strictObject({ percent, after: after.default('0s') }))
    .min(1)
    .max(MAX_STAGES),
  pause_on: z
    .strictObject({
      /**
       * Pause once this many vouched agents reported a failed install. A count only: a share of
       * reports would need every node to know how many vouched agents reported at all.
       */
      failures: z.number().int().min(1).max(MAX_PAUSE_FAILURES),
    })
    .optional(),
  /** A critical release is one stage; staging it needs this, set on purpose. */
  allow_critical_staging: z.literal(true).optional(),
});
export type ManifestRollout = z.infer<typeof manifestRolloutSchema>;

const invalid = (message: string): never => {
  throw new FairpatchError('MANIFEST_INVALID', message);
};

/**
 * The plan the vendor signs, checked as every verifier will check it. A critical release with more
 * than one stage is refused unless `allow_critical_staging` says the vendor means it.
 */
export function signedPlan(rollout: ManifestRollout, severity: string): RolloutPlan {
  const plan: RolloutPlan = {
    v: 1,
    stages: rollout.stages.map((s) => ({
      percent_bp: Math.round(s.percent * 100),
      after_s: durationMs(s.after)! / 1000,
    })),
    ...(rollout.pause_on
      ? {
          pause_on: { failures: rollout.pause_on.failures },
        }
      : {}),
    ...(rollout.allow_critical_staging ? { allow_critical_staging: true as const } : {}),
  };
  const checked = rolloutPlanSchema.safeParse(plan);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    invalid(`rollout.${issue.path.join('.')}: ${issue.message}`);
  }
  if (severity === 'critical' && plan.stages.length > 1 && !plan.allow_critical_staging)
    invalid(
      'a critical release goes to everyone at one tick; to stage it anyway set rollout.allow_critical_staging: true',
    );
  return plan;
}

const STAGE = /^(\d{1,3}(?:\.\d{1,2})?)%(?:@(\d{1,12}(?:ms|s|m|h|d)?))?$/;

/** `--stages 1%,10%@1h,100%@6h`: the manifest's `rollout.stages` (the first stage opens at the tick). */
export function parseStagesFlag(text: string): ManifestRollout['stages'] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.length > MAX_STAGES || parts.some((p) => p === ''))
    invalid(`--stages: 1 to ${MAX_STAGES} stages such as 1%,10%@1h,100%@6h`);
  return parts.map((part, i) => {
    const match = STAGE.exec(part);
    if (!match)
      return invalid(`--stages: ${JSON.stringify(part)} is not PERCENT% or PERCENT%@DURATION`);
    const value = Number(match[1]);
    if (!(value > 0 && value <= 100))
      invalid(`--stages: ${part}: a percentage above 0 and at most 100`);
    if (match[2] === undefined && i > 0)
      invalid(`--stages: ${part}: every stage but the first says when it opens (@1h)`);
    return { percent: value, after: match[2] ?? '0s' };
  });
}

/** One line per stage, for the publisher's summary and the report: "1% at +0s, 10% at +1h, ...". */
export function describePlan(plan: RolloutPlan): string {
  return plan.stages
    .map((s) => `${s.percent_bp / 100}% at +${formatSeconds(s.after_s)}`)
    .join(', ');
}

function formatSeconds(s: number): string {
  if (s > 0 && s % 86_400 === 0) return `${s / 86_400}d`;
  if (s > 0 && s % 3600 === 0) return `${s / 3600}h`;
  if (s > 0 && s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

export { FULL_BP };
