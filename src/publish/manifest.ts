import { z } from 'zod';
import { patchFactsSchema, targetFileName, vendorName } from '../tuf/schema.js';
import { parseIsoSeconds } from '../tuf/time.js';
import { durationMs } from '../common/duration.js';
import { FairpatchError } from '../errors.js';
import { manifestRolloutSchema } from '../rollout/plan.js';
import { advisoryInputSchema } from '../advisory/input.js';

/**
 * A vendor's patch manifest (manifests/*.json). `release_at` is an absolute time
 * (YYYY-MM-DDTHH:MM:SSZ) or a delay from the moment of publishing ("+90s", "+5m", "+2h").
 */
export const manifestSchema = z.strictObject({
  $schema: z.string().optional(),
  vendor: vendorName,
  product: patchFactsSchema.shape.product,
  version: patchFactsSchema.shape.version,
  channel: patchFactsSchema.shape.channel.default('stable'),
  severity: patchFactsSchema.shape.severity,
  cves: patchFactsSchema.shape.cves.default([]),
  applies_to: patchFactsSchema.shape.applies_to,
  release_at: z
    .string()
    .regex(
      /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z|\+\d{1,6}[smhd])$/,
      'release_at: YYYY-MM-DDTHH:MM:SSZ or +<n>s|m|h|d',
    ),
  description: z.string().max(2000).optional(),
  /** A staged rollout: stages by share and delay, chosen by a lottery every agent computes itself. */
  rollout: manifestRolloutSchema.optional(),
  /** The advisory published with the fix, at the same tick (src/advisory): CSAF 2.0 and OSV. */
  advisory: advisoryInputSchema.optional(),
  artifacts: z
    .array(
      z.strictObject({
        platform: patchFactsSchema.shape.platform,
        /** Path of the file, relative to the manifest. */
        file: z.string().min(1).max(1024),
        /** Target file name under `<vendor>/`; defaults to the file's base name. */
        name: targetFileName.optional(),
      }),
    )
    .min(1)
    .max(64),
});

export type Manifest = z.infer<typeof manifestSchema>;

/** Resolves `release_at` to whole seconds (TUF times carry no milliseconds). */
export function resolveReleaseAt(value: string, now: number): number {
  const delay = value.startsWith('+') ? durationMs(value.slice(1)) : undefined;
  if (delay !== undefined) return Math.ceil((now + delay) / 1000) * 1000;
  const absolute = parseIsoSeconds(value);
  if (absolute === undefined)
    throw new FairpatchError('MANIFEST_INVALID', `release_at ${value} is not a valid time`);
  return absolute;
}
