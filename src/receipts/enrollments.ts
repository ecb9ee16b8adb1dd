import {
  type OwnersByGroup,
  type SignedEnrollment,
  verifyEnrollment,
} from '../common/enrollment.js';
import { BoundedCache } from '../common/bounded-cache.js';
import { FairpatchError } from '../errors.js';

/**
 * The checks on the certificates a receipt batch carries, the same at a node and at a witness: each
 * is for a key that signed one of the batch's receipts, in the group that receipt names (a batch
 * carries its own signers' certificates, nothing more), and the owner's signature verifies.
 */
export function checkBatchEnrollments(
  enrollments: readonly SignedEnrollment[],
  signers: ReadonlyArray<{ agent: string; group: string }>,
): void {
  if (enrollments.length === 0) return;
  const groupsOf = new Map<string, Set<string>>();
  for (const s of signers) {
    const groups = groupsOf.get(s.agent);
    if (groups) groups.add(s.group);
    else groupsOf.set(s.agent, new Set([s.group]));
  }
  for (const [i, cert] of enrollments.entries()) {
    const e = cert.enrollment;
    if (!groupsOf.get(e.agent)?.has(e.group))
      throw new FairpatchError(
        'RECEIPT_INVALID',
        `enrollments.${i}: the batch has no receipt signed by agent ${e.agent.slice(0, 16)}… in group ${e.group}`,
      );
    if (!verifyEnrollment(cert))
      throw new FairpatchError(
        'SIGNATURE_INVALID',
        `enrollments.${i}: the owner's signature does not verify`,
      );
  }
}

/** How long declared owners are taken as read: a declaration reaches every node within it. */
const OWNERS_TTL_MS = 5000;

/**
 * The agent keys an intake knows to be vouched for: certificates that came with receipt batches,
 * signed by an owner key the operator declared for the group. Agents send their certificate with
 * every batch, so a bounded memory is enough (a key forgotten is vouched again by its next batch).
 * It decides only which budget a key draws on; what counts as evidence is the auditor's decision,
 * made from the certificates the log keeps.
 */
export class VouchedAgents {
  private readonly keys = new BoundedCache<string, { group: string; until: number }>(200_000);
  /** Certificates this intake has already logged (by signature): each goes into the log once. */
  private readonly logged = new BoundedCache<string, true>(200_000);

  /** The declared owners as last read: re-read at most every OWNERS_TTL_MS. */
  private cached: { at: number; owners: Promise<OwnersByGroup> } | undefined;

  constructor(
    private readonly readOwners: () => Promise<OwnersByGroup>,
    private readonly now: () => number,
  ) {}

  private owners(): Promise<OwnersByGroup> {
    const t = this.now();
    if (!this.cached || t - this.cached.at >= OWNERS_TTL_MS || t < this.cached.at)
      this.cached = { at: t, owners: this.readOwners() };
    return this.cached.owners;
  }

  /** Checks a batch's certificates (checkBatchEnrollments); remembers the vouched keys; returns those not logged yet. */
  async admit(
    enrollments: readonly SignedEnrollment[],
    signers: ReadonlyArray<{ agent: string; group: string }>,
  ): Promise<SignedEnrollment[]> {
    if (enrollments.length === 0) return [];
    checkBatchEnrollments(enrollments, signers);
    const owners = await this.owners();
    const fresh: SignedEnrollment[] = [];
    for (const cert of enrollments) {
      const e = cert.enrollment;
      if (owners[e.group]?.keys.includes(e.owner) && Date.parse(e.expires_at) >= this.now())
        this.keys.set(e.agent, { group: e.group, until: Date.parse(e.expires_at) });
      if (!this.logged.get(cert.sig)) fresh.push(cert);
    }
    return fresh;
  }

  /** Marks certificates as logged, once their leaf is in. */
  markLogged(enrollments: readonly SignedEnrollment[]): void {
    for (const e of enrollments) this.logged.set(e.sig, true);
  }

  vouched(agent: string, group: string): boolean {
    const entry = this.keys.get(agent);
    return entry !== undefined && entry.group === group && entry.until >= this.now();
  }
}
