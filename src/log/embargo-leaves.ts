import { z } from 'zod';
import { EMBARGO_PATTERN, VENDOR_PATTERN } from '../common/names.js';
import { canonicalBytes } from '../tuf/canonical.js';
import { sha256Hex } from '../tuf/metadata.js';

// Embargo leaves. Before its tick an embargo must not tell anyone which advisory is coming or who
// ships it (attackers diff the first fix out), yet the operator must not be able to rewrite it
// afterwards. So it is committed like a schedule (see leaves.ts): before the tick, only hashes over
// the id, the members and a random nonce; at the tick, `embargo.revealed` opens them all and the
// auditor recomputes every hash.

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const tick = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const vendor = z.string().regex(VENDOR_PATTERN);

export const embargoCreated = z.strictObject({
  type: z.literal('embargo.created'),
  v: z.literal(1),
  commitment: sha256,
  activation_tick: tick,
});

/** A move (the new tick is public, as every schedule's is) or a member left out (who: only at the reveal). */
export const embargoDecided = z.strictObject({
  type: z.literal('embargo.decided'),
  v: z.literal(1),
  commitment: sha256,
  seq: z.number().int().min(1).max(10_000),
  decision_sha256: sha256,
  activation_tick: tick,
});

const decision = z.strictObject({
  decision: z.enum(['moved', 'left-out']),
  member: vendor.optional(),
  activation_tick: tick,
});
export type EmbargoDecisionLeaf = z.infer<typeof decision>;

export const embargoRevealed = z.strictObject({
  type: z.literal('embargo.revealed'),
  v: z.literal(1),
  id: z.string().regex(EMBARGO_PATTERN),
  nonce: z.string().regex(/^[0-9a-f]{64}$/),
  members: z.array(vendor).min(1).max(64),
  left_out: z.array(vendor).max(64),
  activation_tick: tick,
  decisions: z.array(decision).max(10_000),
});

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
