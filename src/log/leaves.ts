import { z } from 'zod';
import { FairpatchError } from '../errors.js';
import { canonicalBytes, parseJson } from '../tuf/canonical.js';

// Log leaves: canonical JSON, one schema per type, each versioned by `v`. The leaf bytes
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

const scheduled = z.strictObject({
  type: z.literal('release.scheduled'),
  v: z.literal(1),
  vendor: z.string(),
  metadata_version: z.number().int().min(1),
  metadata_sha256: sha256,
  release_at: iso,
  activation_tick: tick,
  targets: z.record(z.string(), z.strictObject({ sha256, length: count, product: z.string(), version: z.string(), platform: z.string() })),
});

const halted = z.strictObject({
  type: z.literal('release.halted'),
  v: z.literal(1),
  vendor: z.string(),
  metadata_version: z.number().int().min(1),
  metadata_sha256: sha256,
  effective_at: iso,
  activation_tick: tick,
  removed: z.array(z.string()),
});

const activated = z.strictObject({
  type: z.literal('release.activated'),
  v: z.literal(1),
  vendor: z.string(),
  metadata_version: z.number().int().min(1),
  tick,
  snapshot_version: z.number().int().min(1),
  snapshot_sha256: sha256,
  timestamp_sha256: sha256,
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
      notifications: z.record(z.string().regex(/^[1-9]\d*$/), z.strictObject({ connections: count, fanout_us: count })).optional(),
    }),
  ),
});

const receipts = z.strictObject({
  type: z.literal('receipts.batch'),
  v: z.literal(1),
  /** Timestamp documents not logged before, by sha256 of their canonical bytes. */
  documents: z.record(sha256, z.string()),
  observations: z.array(z.strictObject({ document: sha256, group, client: z.string().max(128), received_at: iso })),
});

/** A new log key, announced under checkpoints the old key signs: auditors learn it from the log itself. */
const logKeyRotated = z.strictObject({ type: z.literal('log.key-rotated'), v: z.literal(1), vkey: z.string().max(300) });

export const leafSchema = z.discriminatedUnion('type', [created, logKeyRotated, scheduled, halted, activated, rotated, rollup, receipts]);
export type Leaf = z.infer<typeof leafSchema>;
export type LeafOf<T extends Leaf['type']> = Extract<Leaf, { type: T }>;

export function leafBytes(leaf: Leaf): Buffer {
  return canonicalBytes(leaf);
}

/** Parses leaf bytes fetched from a log: anything but a known leaf is an error the auditor reports. */
export function parseLeaf(bytes: Uint8Array): Leaf {
  const result = leafSchema.safeParse(parseJson(bytes, 'JSON_INVALID'));
  if (!result.success) throw new FairpatchError('PROOF_INVALID', `log leaf is not a known leaf type: ${result.error.issues[0]?.message ?? ''}`);
  return result.data;
}
