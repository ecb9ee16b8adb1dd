import { z } from 'zod';
import { groupName } from './names.js';
import { isoMillis } from './iso-millis.js';
import { statementKind } from './statement.js';

// Enrollment: a group's owner (a tenant, a regional CERT, an independent monitor) vouches for an
// agent key with its own owner key. A key costs nothing, so a thousand fresh keys prove nothing; a
// key an accountable owner certified for its group is testimony that owner answers for. The owner
// signs one certificate per agent on its own machine (`fairpatch owner enroll`); the agent carries it
// and sends it with its receipts, so it lands in the log (and in witnesses' logs and receipt
// exports) where every auditor finds it, and no one edits a file per agent. Which owner keys speak
// for a group is declared once per group: by the operator in the log (`groups declare --owners`),
// or pinned by an auditor (`audit --owners`), which then wins.

const HEX64 = z.string().regex(/^[0-9a-f]{64}$/, '64 hex digits (an Ed25519 public key)');

export const enrollmentSchema = z.strictObject({
  v: z.literal(1),
  /** The group the agent testifies for: testimony about any other group is not vouched. */
  group: groupName,
  /** The agent's Ed25519 public key, hex. */
  agent: HEX64,
  /** The owner key that signs this certificate, hex. */
  owner: HEX64,
  issued_at: isoMillis,
  /** Receipts signed after this are no longer vouched (an agent retired or a key lost). */
  expires_at: isoMillis,
});
export type Enrollment = z.infer<typeof enrollmentSchema>;

export const signedEnrollmentSchema = z.strictObject({
  enrollment: enrollmentSchema,
  sig: z.string().regex(/^[0-9a-f]{128}$/),
});
export type SignedEnrollment = z.infer<typeof signedEnrollmentSchema>;

/** Which owner keys vouch for a group's agents, and how many vouched agents convict (the owner's policy). */
export const groupOwnersSchema = z.strictObject({
  keys: z.array(HEX64).min(1).max(16),
  /** Distinct vouched agents whose testimony convicts; the auditor's `--quorum` where absent. */
  quorum: z.number().int().min(1).max(1000).optional(),
});
export type GroupOwners = z.infer<typeof groupOwnersSchema>;
export const ownersByGroupSchema = z.record(groupName, groupOwnersSchema);
export type OwnersByGroup = Readonly<Record<string, GroupOwners>>;

/** Domain separated: an owner's certificate can never be mistaken for any other signed thing. */
const kind = statementKind<Enrollment>('fairpatch enrollment v1', (e) => e.owner);

export function signEnrollment(enrollment: Enrollment, ownerSeed: Uint8Array): SignedEnrollment {
  return { enrollment, sig: kind.sign(enrollment, ownerSeed) };
}

export function verifyEnrollment(signed: SignedEnrollment): boolean {
  return kind.verify(signed.enrollment, signed.sig);
}

/**
 * Whose testimony counts, per group: agent keys certified by a trusted owner of that group (each for
 * its validity window), and keys pinned directly (`--clients`), which count always. Built from
 * certificates whose signatures were checked; anything else is simply not vouched.
 */
export class VouchedKeys {
  private readonly byGroup = new Map<string, Map<string, { from: number; to: number }>>();

  constructor(
    readonly owners: OwnersByGroup,
    pinned: Readonly<Record<string, readonly string[]>> = {},
  ) {
    for (const [group, agents] of Object.entries(pinned))
      for (const agent of agents) this.add(group, agent, -Infinity, Infinity);
  }

  /** Adds a certificate if its owner speaks for its group and its signature verifies; says whether it did. */
  admit(signed: SignedEnrollment, verified = verifyEnrollment(signed)): boolean {
    const e = signed.enrollment;
    if (!this.owners[e.group]?.keys.includes(e.owner) || !verified) return false;
    this.add(e.group, e.agent, Date.parse(e.issued_at), Date.parse(e.expires_at));
    return true;
  }

  /** Whether `agent` was vouched for `group` at `at` (ms). */
  vouched(group: string, agent: string, at: number): boolean {
    const window = this.byGroup.get(group)?.get(agent);
    return window !== undefined && window.from <= at && at <= window.to;
  }

  /** Distinct vouched agents that convict for the group, by its owner's policy, if it set one. */
  quorum(group: string): number | undefined {
    return this.owners[group]?.quorum;
  }

  /** How many agent keys are vouched for the group, and whether the group has any owner at all. */
  count(group: string): number {
    return this.byGroup.get(group)?.size ?? 0;
  }

  private add(group: string, agent: string, from: number, to: number): void {
    let agents = this.byGroup.get(group);
    if (!agents) this.byGroup.set(group, (agents = new Map()));
    const prev = agents.get(agent);
    // Several certificates for one key (renewals): the union of their windows.
    agents.set(agent, {
      from: Math.min(prev?.from ?? from, from),
      to: Math.max(prev?.to ?? to, to),
    });
  }
}
