import { z } from 'zod';
import { FairpatchError } from '../errors.js';
import { leafJsonBytes, parseJson } from '../common/canonical.js';
import { signedObservationSchema } from '../common/observation.js';
import { signedInstallReportSchema } from '../common/install-report.js';
import { ownersByGroupSchema, signedEnrollmentSchema } from '../common/enrollment.js';
import { VENDOR_PATTERN } from '../common/names.js';
import { MAX_PAUSE_FAILURES } from '../common/rollout-plan.js';
import { MAX_LOGGED_METADATA_BYTES } from './limits.js';
import {
  embargoCreated,
  embargoDecided,
  embargoRevealed,
  scheduleSealed,
} from './embargo-leaves.js';

// Log leaves: canonical JSON that parses back (leafJsonBytes), one schema per type, each versioned by `v`. The leaf bytes
// are what is hashed into the tree, so they are parsed back strictly by the auditor.

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const iso = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/);
const tick = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const group = z.string().regex(/^[a-z0-9_][a-z0-9._-]{0,63}$/);

/** Leaf 0: the tick clock every other leaf's ticks are read against, and the root the log serves. */
const created = z.strictObject({
  type: z.literal('repository.created'),
  v: z.literal(1),
  epoch_ms: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  tick_ms: z.number().int().min(1).max(3_600_000),
  freshness_ms: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  root_sha256: sha256,
});

/** Which signed version of which vendor's metadata a schedule or a halt is about. */
const metadataVersion = {
  vendor: z.string(),
  metadata_version: z.number().int().min(1),
  metadata_sha256: sha256,
};

/** Logs written before schedules were committed without their contents (still audited). */
const scheduledV1 = z.strictObject({
  type: z.literal('release.scheduled'),
  v: z.literal(1),
  ...metadataVersion,
  release_at: iso,
  activation_tick: tick,
  targets: z.record(
    z.string(),
    z.strictObject({
      sha256,
      length: count,
      product: z.string(),
      version: z.string(),
      platform: z.string(),
    }),
  ),
});

/**
 * A schedule, committed before its tick without revealing it: the vendor, the tick, and the sha256 of
 * the vendor metadata that will go live (a hash commitment). Products, versions, file names, hashes and
 * sizes enter the log only at activation, where the auditor checks them against this commitment.
 */
const committed = <T extends string>(type: T) =>
  z.strictObject({
    type: z.literal(type),
    v: z.literal(2),
    ...metadataVersion,
    activation_tick: tick,
  });

const scheduledV2 = committed('release.scheduled');

const haltedV1 = z.strictObject({
  type: z.literal('release.halted'),
  v: z.literal(1),
  ...metadataVersion,
  effective_at: iso,
  activation_tick: tick,
  removed: z.array(z.string()),
});

/** A halt, committed like a schedule: which paths it removes is public only at its tick. */
const haltedV2 = committed('release.halted');

/** Which vendor metadata went live at which tick, in which snapshot and timestamp. */
const activation = {
  vendor: z.string(),
  metadata_version: z.number().int().min(1),
  tick,
  snapshot_version: z.number().int().min(1),
  snapshot_sha256: sha256,
  timestamp_sha256: sha256,
};

const activatedV1 = z.strictObject({
  type: z.literal('release.activated'),
  v: z.literal(1),
  ...activation,
});

/** The activation opens the commitment: the vendor metadata that went live, as served. */
const activatedV2 = z.strictObject({
  type: z.literal('release.activated'),
  v: z.literal(2),
  ...activation,
  /** The vendor's signed metadata, as served from this tick on. */
  metadata: z.string().max(MAX_LOGGED_METADATA_BYTES),
});

/**
 * Which metadata file a served change is about: a vendor's delegated targets (by vendor name, which is
 * never a top-level role's name), the top-level `targets` or a `root`.
 */
const role = z.union([z.literal('targets'), z.literal('root'), z.string().regex(VENDOR_PATTERN)]);

/**
 * Every other version that changes what clients are served (a refresh, a key rotation, a vendor's
 * registration, a new root), committed before its tick like a schedule: only the sha256 of the
 * metadata, which the activation opens.
 */
const changeScheduled = z.strictObject({
  type: z.literal('change.scheduled'),
  v: z.literal(1),
  role,
  metadata_version: z.number().int().min(1),
  metadata_sha256: sha256,
  activation_tick: tick,
});

/** The activation of such a version at its tick, in which snapshot and timestamp, with the metadata. */
const changeActivated = z.strictObject({
  type: z.literal('change.activated'),
  v: z.literal(1),
  role,
  metadata_version: z.number().int().min(1),
  tick,
  snapshot_version: z.number().int().min(1),
  snapshot_sha256: sha256,
  timestamp_sha256: sha256,
  metadata: z.string().max(MAX_LOGGED_METADATA_BYTES),
});

/**
 * From `from_tick` on, every served change has its leaf (a node that logs them says so once): the
 * snapshot version then, and how often it is renewed with no change, so the auditor can explain every
 * snapshot version served from that tick on.
 */
const changesLogged = z.strictObject({
  type: z.literal('changes.logged'),
  v: z.literal(1),
  from_tick: tick,
  snapshot_version: z.number().int().min(1),
  snapshot_period_ticks: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
});

/** The customer groups the operator serves, declared by the operator: the audit must cover each. */
const groupsDeclaredV1 = z.strictObject({
  type: z.literal('groups.declared'),
  v: z.literal(1),
  groups: z.array(z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/)).max(10_000),
});

/** The groups, and for each group the owner keys that vouch for its agents and the owner's quorum. */
const groupsDeclaredV2 = groupsDeclaredV1.extend({
  v: z.literal(2),
  owners: ownersByGroupSchema,
});

const rotated = z.strictObject({
  type: z.literal('keys.rotated'),
  v: z.literal(1),
  root_version: z.number().int().min(1),
  root_sha256: sha256,
  keyids: z.record(z.string(), z.array(sha256)),
});

const versionDelivery = z.strictObject({ polls: count, first_tick: tick, last_tick: tick });
const rollup = z.strictObject({
  type: z.literal('delivery.rollup'),
  v: z.literal(1),
  node: z.string().max(128),
  from_tick: tick,
  to_tick: tick,
  groups: z.record(
    group,
    z.strictObject({
      polls: count,
      versions: z.record(z.string().regex(/^[1-9]\d*$/), versionDelivery),
      /** Push fan-outs by tick: streams notified in this group, and the fan-out's duration. */
      notifications: z
        .record(
          z.string().regex(/^[1-9]\d*$/),
          z.strictObject({ connections: count, fanout_us: count }),
        )
        .optional(),
    }),
  ),
});

const receiptsV1 = z.strictObject({
  type: z.literal('receipts.batch'),
  v: z.literal(1),
  /** Timestamp documents not logged before, by sha256 of their canonical bytes. */
  documents: z.record(sha256, z.string()),
  observations: z.array(
    z.strictObject({ document: sha256, group, client: z.string().max(128), received_at: iso }),
  ),
});

/** Agents' signed observations and the documents they name (those not logged before). */
const receiptsV2 = z.strictObject({
  type: z.literal('receipts.batch'),
  v: z.literal(2),
  documents: z.record(sha256, z.string()),
  receipts: z.array(signedObservationSchema),
  /** Owners' certificates of agents not yet enrolled in this log (src/common/enrollment.ts). */
  enrollments: z.array(signedEnrollmentSchema).optional(),
});

/** A new log key, announced under checkpoints the old key signs: auditors learn it from the log itself. */
const logKeyRotated = z.strictObject({
  type: z.literal('log.key-rotated'),
  v: z.literal(1),
  vkey: z.string().max(300),
});

/**
 * A staged release paused by the node, not the vendor: the vouched agents' signed failure reports
 * that reached the plan's `pause_on` threshold, so every auditor recounts them (src/rollout/auto-pause.ts).
 * Effective at `tick` for every group, replayed like a vendor's pause. The leaf's bound is the plan's:
 * a threshold is at most 10,000 reports of under 500 bytes each.
 */
const autoPaused = z.strictObject({
  type: z.literal('rollout.auto-paused'),
  v: z.literal(1),
  /** `vendor/product@version`, as the lottery names it. */
  release: z.string().max(300),
  vendor: z.string(),
  tick,
  /** The plan's `pause_on.failures` when the node decided. */
  threshold: z.number().int().min(1).max(MAX_PAUSE_FAILURES),
  reports: z.array(signedInstallReportSchema).max(MAX_PAUSE_FAILURES),
});

const byVersion = <A extends z.ZodObject, B extends z.ZodObject>(a: A, b: B) =>
  z.discriminatedUnion('v', [a, b]);

export const leafSchema = z.discriminatedUnion('type', [
  created,
  logKeyRotated,
  byVersion(scheduledV1, scheduledV2),
  byVersion(haltedV1, haltedV2),
  byVersion(activatedV1, activatedV2),
  changeScheduled,
  changeActivated,
  changesLogged,
  byVersion(groupsDeclaredV1, groupsDeclaredV2),
  rotated,
  rollup,
  byVersion(receiptsV1, receiptsV2),
  embargoCreated,
  embargoDecided,
  embargoRevealed,
  scheduleSealed,
  autoPaused,
]);
export type Leaf = z.infer<typeof leafSchema>;
export type LeafOf<T extends Leaf['type']> = Extract<Leaf, { type: T }>;

export function leafBytes(leaf: Leaf): Buffer {
  return leafJsonBytes(leaf);
}

/** Parses leaf bytes fetched from a log: anything but a known leaf is an error the auditor reports. */
export function parseLeaf(bytes: Uint8Array): Leaf {
  const result = leafSchema.safeParse(parseJson(bytes, 'JSON_INVALID'));
  if (!result.success)
    throw new FairpatchError(
      'PROOF_INVALID',
      `log leaf is not a known leaf type: ${result.error.issues[0]?.message ?? ''}`,
    );
  return result.data;
}
