import { z } from 'zod';
import { EMBARGO_PATTERN, VENDOR_PATTERN } from '../common/names.js';
import { canonicalBytes } from '../common/canonical.js';
import { sha256Hex } from '../tuf/metadata.js';

// Embargo leaves. Before its tick an embargo must not tell anyone which advisory is coming or who
// ships it (attackers diff the first fix out), yet the operator must not be able to rewrite it
// afterwards. So it is committed like a schedule (see leaves.ts): before the tick, only hashes over
// the id, the members and a random nonce; at the tick, `embargo.revealed` opens them all and the
// auditor recomputes every hash.

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const tick = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const vendor = z.string().regex(VENDOR_PATTERN);

/** Logs written before the tick was hidden (v1: the tick in the clear; still audited). */
const embargoCreatedV1 = z.strictObject({
  type: z.literal('embargo.created'),
  v: z.literal(1),
  commitment: sha256,
  activation_tick: tick,
});

/** v2: only the commitment; the tick would say when a fix is coming, which the reveal opens. */
const embargoCreatedV2 = z.strictObject({
  type: z.literal('embargo.created'),
  v: z.literal(2),
  commitment: sha256,
});
export const embargoCreated = z.discriminatedUnion('v', [embargoCreatedV1, embargoCreatedV2]);

const decidedFields = {
  type: z.literal('embargo.decided'),
  commitment: sha256,
  seq: z.number().int().min(1).max(10_000),
  decision_sha256: sha256,
};
/** A move (v1: its new tick in the clear) or a member left out (who: only at the reveal). */
const embargoDecidedV1 = z.strictObject({
  ...decidedFields,
  v: z.literal(1),
  activation_tick: tick,
});
/** v2: the decision, its member and its tick are all inside `decision_sha256` until the reveal. */
const embargoDecidedV2 = z.strictObject({ ...decidedFields, v: z.literal(2) });
export const embargoDecided = z.discriminatedUnion('v', [embargoDecidedV1, embargoDecidedV2]);

/**
 * The schedule of a member's version due at the embargo's tick, sealed: in the clear, a
 * `release.scheduled` leaf names the vendor and the tick, so the members' leaves at one tick would
 * say who is in the embargo and when it ends. Only a hash over the schedule, the embargo's id and its
 * nonce until the reveal lists the schedule in the clear (`sealedSchedule`); the auditor then reads it
 * as the schedule it opens, committed at this leaf's index.
 */
export const scheduleSealed = z.strictObject({
  type: z.literal('schedule.sealed'),
  v: z.literal(1),
  sealed: sha256,
});

/** A sealed schedule as the reveal opens it: what the leaf in the clear would have said. */
const openedSchedule = z.strictObject({
  /** `release` and `halt`: release.scheduled / release.halted; `change`: change.scheduled. */
  kind: z.enum(['release', 'halt', 'change']),
  vendor,
  metadata_version: z.number().int().min(1),
  metadata_sha256: sha256,
  activation_tick: tick,
});
export type OpenedSchedule = z.infer<typeof openedSchedule>;

/** At most this many sealed schedules per embargo (each member has one version per tick, or two). */
export const MAX_SEALED_SCHEDULES = 256;

const decision = z.strictObject({
  decision: z.enum(['moved', 'left-out']),
  member: vendor.optional(),
  activation_tick: tick,
});
export type EmbargoDecisionLeaf = z.infer<typeof decision>;

const revealedFields = {
  type: z.literal('embargo.revealed'),
  id: z.string().regex(EMBARGO_PATTERN),
  nonce: z.string().regex(/^[0-9a-f]{64}$/),
  members: z.array(vendor).min(1).max(64),
  left_out: z.array(vendor).max(64),
  activation_tick: tick,
  decisions: z.array(decision).max(10_000),
};
/** v2 also opens the members' sealed schedules (`schedule.sealed`). */
export const embargoRevealed = z.discriminatedUnion('v', [
  z.strictObject({ ...revealedFields, v: z.literal(1) }),
  z.strictObject({
    ...revealedFields,
    v: z.literal(2),
    schedules: z.array(openedSchedule).max(MAX_SEALED_SCHEDULES),
  }),
]);

/** sha256 over the embargo's id, sorted members and nonce: the nonce keeps small id spaces unguessable. */
export function embargoCommitment(id: string, members: readonly string[], nonce: string): string {
  return sha256Hex(canonicalBytes({ id, members: [...members].sort(), nonce }));
}

export function decisionCommitment(
  id: string,
  nonce: string,
  seq: number,
  d: EmbargoDecisionLeaf,
): string {
  return sha256Hex(canonicalBytes({ id, nonce, seq, ...d }));
}

/** The hash a `schedule.sealed` leaf carries: the schedule, under the embargo's id and secret nonce. */
export function sealedSchedule(id: string, nonce: string, schedule: OpenedSchedule): string {
  return sha256Hex(canonicalBytes({ id, nonce, schedule }));
}
