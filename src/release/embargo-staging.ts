import { FairpatchError } from '../errors.js';
import { isoSeconds } from '../tuf/time.js';
import type { StagingPlan } from './staging.js';

export interface PendingMembership {
  id: string;
  releaseAt: number;
  leftOut: boolean;
  stagedVersion?: number;
}

/**
 * The embargo rules a staging must pass, on top of planStaging's:
 *  - into an embargo (`?embargo=ID`): the vendor is a member not left out, has not staged into it yet,
 *    and the upload is a release whose signed release_at is exactly the embargo's: every member's
 *    version then activates at the same tick, so one snapshot version (one timestamp) carries them
 *    all (TUF spec 5.5: snapshot lists every targets role version).
 *  - outside: while a vendor is named by an embargo whose time has not come (left out or not), nothing
 *    it stages may go live before that time (EMBARGO_PENDING). Vendor metadata is cumulative, so any
 *    earlier version it staged, a halt of something unrelated included, could carry (or precede and
 *    then be overtaken by) the embargoed fix; and a member shipping its own fix early is exactly the
 *    leak the embargo exists to stop. A left-out member's fix is scheduled on its own at or after it.
 */
export function assertEmbargoStaging(input: {
  vendor: string;
  plan: Pick<StagingPlan, 'kind' | 'effectiveAt'>;
  pending: readonly PendingMembership[];
  into?: { id: string };
}): PendingMembership | undefined {
  const { vendor, plan, pending } = input;
  let target: PendingMembership | undefined;
  if (input.into) {
    target = pending.find((p) => p.id === input.into?.id);
    // Not a member (or no such embargo, or already past): the same answer, so nothing is learnt.
    if (!target)
      throw new FairpatchError('NOT_FOUND', `no pending embargo ${input.into.id} names ${vendor}`);
    if (target.leftOut)
      throw new FairpatchError(
        'EMBARGO_INVALID',
        `${vendor} was left out of embargo ${target.id}: schedule the fix on its own, at or after ${isoSeconds(target.releaseAt)}`,
      );
    if (target.stagedVersion !== undefined)
      throw new FairpatchError(
        'EMBARGO_INVALID',
        `${vendor} already staged version ${target.stagedVersion} into embargo ${target.id}`,
      );
    if (plan.kind !== 'release')
      throw new FairpatchError(
        'EMBARGO_INVALID',
        'only a release (new targets) is staged into an embargo',
      );
    if (plan.effectiveAt !== target.releaseAt) {
      throw new FairpatchError(
        'EMBARGO_INVALID',
        `release_at: must be the embargo's, ${isoSeconds(target.releaseAt)}`,
        { details: { field: 'release_at', release_at: isoSeconds(target.releaseAt) } },
      );
    }
  }
  for (const p of pending) {
    if (p === target || plan.effectiveAt >= p.releaseAt) continue;
    throw new FairpatchError(
      'EMBARGO_PENDING',
      `${vendor} is in embargo ${p.id} until ${isoSeconds(p.releaseAt)}: stage the fix into it (publish --embargo ${p.id}), or schedule this at or after that time`,
      {
        details: { embargo: p.id, release_at: isoSeconds(p.releaseAt) },
      },
    );
  }
  return target;
}

/**
 * A key rotation re-signs the vendor's latest metadata, so it carries whatever that version carries.
 * Checked under the vendor's row lock (store.rotateVendorKey): the rotation must not take effect
 * before the latest version it re-signs (a move may have pushed that later since the caller read it),
 * and, while the vendor is in a pending embargo with a version not in effect yet (its fix, or
 * anything it may carry), not before the embargo's time either. A rotation of a member with nothing
 * pending carries only what is already public, and may go ahead: a compromised key cannot wait.
 */
export function assertEmbargoRotation(input: {
  vendor: string;
  effectiveAt: number;
  latestEffectiveAt: number;
  now: number;
  pending: readonly PendingMembership[];
}): void {
  const { vendor, effectiveAt, latestEffectiveAt, now, pending } = input;
  if (latestEffectiveAt > effectiveAt)
    throw new FairpatchError(
      'RELEASE_PENDING',
      `${vendor}'s latest version takes effect at ${isoSeconds(latestEffectiveAt)}, after this rotation would: it changed while the rotation was checked; request it again`,
      { details: { activates_at: isoSeconds(latestEffectiveAt) } },
    );
  if (latestEffectiveAt <= now) return;
  for (const p of pending)
    if (effectiveAt < p.releaseAt)
      throw new FairpatchError(
        'EMBARGO_PENDING',
        `${vendor} is in embargo ${p.id} until ${isoSeconds(p.releaseAt)} with a version not yet in effect: a rotation re-signs it, so it waits until the embargo's time`,
        { details: { embargo: p.id, release_at: isoSeconds(p.releaseAt) } },
      );
}
