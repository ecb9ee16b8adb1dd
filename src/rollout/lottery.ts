import { createHash } from 'node:crypto';
import { FULL_BP } from '../common/rollout-plan.js';

// The lottery: each agent's place in a release's rollout is a hash of the release, the release's
// salt (./salt.ts: unknown to anyone until the release is committed in the log and cosigned) and the
// agent's own public key. An agent decides its eligibility from signed bytes alone; anyone holding the
// same bytes recomputes it, so eligibility is never a server's decision and never a group's.

const DOMAIN = Buffer.from('fairpatch rollout cohort v1\n', 'utf8');
const TWO_64 = 1n << 64n;

/** A release's name in the lottery and the salt: its vendor, product and patch version. */
export function releaseId(vendor: string, product: string, version: string): string {
  return `${vendor}/${product}@${version}`;
}

/**
 * The agent's cohort in a release: H(domain ‖ release ‖ salt ‖ agent key) read as a 64-bit integer c,
 * standing for c / 2^64 in [0, 1). Each field is length-prefixed so no two inputs share bytes.
 */
export function cohort(release: string, salt: Buffer, agentKeyHex: string): bigint {
  const rel = Buffer.from(release, 'utf8');
  const key = Buffer.from(agentKeyHex, 'hex');
  const len = (n: number) => {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(n);
    return b;
  };
  const digest = createHash('sha256')
    .update(DOMAIN)
    .update(len(rel.length))
    .update(rel)
    .update(len(salt.length))
    .update(salt)
    .update(len(key.length))
    .update(key)
    .digest();
  return digest.readBigUInt64BE(0);
}

/** Exactly c / 2^64 < bp / 10000, in integers: no float decides who is in. */
export function inShare(cohortValue: bigint, percentBp: number): boolean {
  return cohortValue * BigInt(FULL_BP) < BigInt(percentBp) * TWO_64;
}

/** The cohort as a fraction in [0, 1), for people (reports), never for the decision. */
export function cohortFraction(cohortValue: bigint): number {
  return Number(cohortValue >> 11n) / 2 ** 53;
}
