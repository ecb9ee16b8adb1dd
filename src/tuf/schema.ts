import semver from 'semver';
import { z } from 'zod';
import { VENDOR_PATTERN } from '../common/names.js';
import { rolloutPlanSchema } from '../common/rollout-plan.js';
import { FairpatchError } from '../errors.js';
import { parseIsoSeconds } from './time.js';
import type { Envelope, RootSigned, TargetsSigned } from './metadata.js';

// Parsers for metadata that arrives from outside (vendor uploads, root rotations). Everything is
// strict: unknown fields are refused, numbers must be safe integers (canonical JSON has no floats).

const hex = (n: number) =>
  z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`), `expected ${n} lowercase hex characters`);
const int = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const version = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const expires = z
  .string()
  .refine((s) => parseIsoSeconds(s) !== undefined, 'expected YYYY-MM-DDTHH:MM:SSZ');
const specVersion = z.string().regex(/^1\.\d+(\.\d+)?$/, 'expected spec_version 1.x');

export const tufKeySchema = z.strictObject({
  keytype: z.literal('ed25519'),
  scheme: z.literal('ed25519'),
  keyval: z.strictObject({ public: hex(64) }),
});

const signatures = z
  .array(z.strictObject({ keyid: hex(64), sig: hex(128) }))
  .min(1)
  .max(16);

/** Vendor names are path prefixes and role names: short, lowercase, never a top-level role. */
export const vendorName = z
  .string()
  .regex(VENDOR_PATTERN, 'vendor: lowercase letters, digits and dashes, at most 63')
  .refine(
    (n) => !['root', 'targets', 'snapshot', 'timestamp'].includes(n),
    'vendor name is a reserved role name',
  );

/** One file name below the vendor's directory: no separators, no dot-dot, no leading dot. */
export const targetFileName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/, 'file name: letters, digits, . _ + -, at most 128')
  .refine((n) => !n.includes('..'), 'file name must not contain ..');

export const patchFactsSchema = z.strictObject({
  rollout: rolloutPlanSchema.optional(),
  // A vendor's pause, resume or advance of its staged release of this product and version: a target
  // of its own (src/publish/build.ts buildRolloutAction), live at its tick for everyone, like a halt.
  rollout_action: z.strictObject({ action: z.enum(['pause', 'resume', 'advance']) }).optional(),
  product: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/),
  // A version the agent cannot order, or a range it cannot read, would make a patch that is silently
  // never offered: refused at the door instead.
  version: z
    .string()
    .max(64)
    .refine((v) => semver.valid(v) === v, 'version: a semantic version such as 2.4.1'),
  platform: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,31}$/),
  channel: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/),
  severity: z.enum(['low', 'medium', 'high', 'critical']),
  cves: z.array(z.string().regex(/^CVE-\d{4}-\d{4,}$/)).max(64),
  applies_to: z
    .string()
    .min(1)
    .max(256)
    // semver reads a newline as a space; the metadata's canonical bytes would keep it raw.
    .regex(/^[ -~]+$/, 'applies_to: printable ASCII')
    .refine(
      (r) => semver.validRange(r) !== null,
      'applies_to: a semver range such as ">=2.0.0 <2.4.1"',
    ),
  release_at: expires,
  // An advisory's own target (src/advisory) names its id; the id's pattern is checked there.
  advisory: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,128}$/)
    .optional(),
});

export const targetInfoSchema = z.strictObject({
  length: int,
  hashes: z.strictObject({ sha256: hex(64) }),
  // A critical fix goes to everyone at one tick unless its vendor signed that it means to stage it.
  custom: patchFactsSchema.refine(
    (f) =>
      !(f.severity === 'critical' && (f.rollout?.stages.length ?? 1) > 1) ||
      f.rollout?.allow_critical_staging === true,
    {
      message: 'a critical release with stages needs rollout.allow_critical_staging',
      path: ['rollout'],
    },
  ),
});

export const vendorTargetsSchema = z.strictObject({
  signed: z.strictObject({
    _type: z.literal('targets'),
    spec_version: specVersion,
    version,
    expires,
    targets: z.record(z.string().max(200), targetInfoSchema),
  }),
  signatures,
});

const roleKeys = z.strictObject({
  keyids: z.array(hex(64)).min(1).max(16),
  threshold: z.number().int().min(1).max(16),
});

export const rootSchema = z.strictObject({
  signed: z.strictObject({
    _type: z.literal('root'),
    spec_version: specVersion,
    version,
    expires,
    consistent_snapshot: z.literal(true),
    keys: z.record(hex(64), tufKeySchema),
    roles: z.strictObject({
      root: roleKeys,
      targets: roleKeys,
      snapshot: roleKeys,
      timestamp: roleKeys,
    }),
  }),
  signatures,
});

/** Validates with a zod schema and turns failures into one coded error naming the first problem. */
export function parseWith<T>(
  schema: z.ZodType<T>,
  value: unknown,
  code: 'METADATA_INVALID' | 'MANIFEST_INVALID' | 'BAD_REQUEST' | 'RECEIPT_INVALID',
): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.length ? issue.path.join('.') : '(root)';
  throw new FairpatchError(code, `${where}: ${issue?.message ?? 'invalid'}`, {
    details: {
      issues: result.error.issues
        .slice(0, 5)
        .map((i) => ({ path: i.path.map(String), message: i.message })),
    },
  });
}

export const parseVendorTargets = (v: unknown): Envelope<TargetsSigned> =>
  parseWith(vendorTargetsSchema, v, 'METADATA_INVALID') as Envelope<TargetsSigned>;
export const parseRoot = (v: unknown): Envelope<RootSigned> =>
  parseWith(rootSchema, v, 'METADATA_INVALID') as Envelope<RootSigned>;
