import {
  type OwnersByGroup,
  VouchedKeys,
  signedEnrollmentSchema,
  verifyEnrollment,
} from '../common/enrollment.js';
import type { Leaf, LeafOf } from '../log/leaves.js';
import type { ExternalEvidence } from './observations.js';
import { signedKey } from './digest/receipts.js';
import type { Finding } from './report.js';

/**
 * Whose testimony counts. A group's owner keys are the auditor's own pins (`--owners`) where it has
 * them, else what the operator declared in the log; a pin that contradicts the declaration is
 * reported, and the pin wins. Agent keys are vouched by owners' certificates found anywhere (the
 * log, witnesses, receipt exports), each signature checked, or pinned directly (`--clients`).
 */
export function vouchedKeys(input: {
  leaves: ReadonlyArray<{ index: number; leaf: Leaf }>;
  /** Owners' certificates the log's receipt batches carried, each with the first leaf that did. */
  enrollments: ReadonlyArray<{ leaf: number; certificate: unknown }>;
  external: readonly ExternalEvidence[];
  owners: OwnersByGroup;
  pinnedClients: Readonly<Record<string, readonly string[]>>;
  /** Signatures already checked, by `signedKey` (a long-lived reader checks each once). */
  verified?: Map<string, boolean>;
}): {
  vouched: VouchedKeys;
  /**
   * The log index of each vouched key's first certificate in the log, by `group\n agent` (-1:
   * pinned by the auditor); a key vouched only from outside the log has none.
   */
  enrolledAt: Map<string, number>;
  ownersSource: Record<string, string>;
  notes: Finding[];
} {
  const declaredAt = lastDeclaration(input.leaves);
  const declared: OwnersByGroup =
    declaredAt?.leaf.v === 2
      ? (declaredAt.leaf as LeafOf<'groups.declared'> & { v: 2 }).owners
      : {};
  const notes: Finding[] = [];
  const owners: Record<string, OwnersByGroup[string]> = { ...declared };
  const ownersSource: Record<string, string> = Object.fromEntries(
    Object.keys(declared).map((g) => [g, `declared by the operator at leaf ${declaredAt!.index}`]),
  );
  for (const [group, pinned] of Object.entries(input.owners)) {
    const logged = declared[group];
    if (logged && !sameKeys(logged.keys, pinned.keys))
      notes.push({
        kind: 'owner-mismatch',
        class: 'note',
        unfair: false,
        group,
        message: `the owner keys pinned for group ${group} differ from those the operator declared at leaf ${declaredAt!.index}: the pinned ones are used`,
        evidence: { leaf: declaredAt!.index, declared: logged.keys, pinned: pinned.keys },
      });
    owners[group] = pinned;
    ownersSource[group] = 'pinned by the auditor';
  }
  const vouched = new VouchedKeys(owners, input.pinnedClients);
  const verified = input.verified ?? new Map<string, boolean>();
  const enrolledAt = new Map<string, number>();
  for (const [group, agents] of Object.entries(input.pinnedClients))
    for (const agent of agents) enrolledAt.set(enrolledKey(group, agent), -1);
  const admit = (candidate: unknown, index?: number): void => {
    const parsed = signedEnrollmentSchema.safeParse(candidate);
    if (!parsed.success) return;
    const checked = signedKey(parsed.data.sig, parsed.data.enrollment);
    let valid = verified.get(checked);
    if (valid === undefined) {
      valid = verifyEnrollment(parsed.data);
      verified.set(checked, valid);
    }
    const key = enrolledKey(parsed.data.enrollment.group, parsed.data.enrollment.agent);
    if (vouched.admit(parsed.data, valid) && index !== undefined && !enrolledAt.has(key))
      enrolledAt.set(key, index);
  };
  for (const { leaf, certificate } of input.enrollments) admit(certificate, leaf);
  for (const e of input.external) for (const c of e.enrollments ?? []) admit(c);
  return { vouched, enrolledAt, ownersSource, notes };
}

/** The key of `enrolledAt`. */
export const enrolledKey = (group: string, agent: string): string => `${group}\n${agent}`;

function lastDeclaration(
  leaves: ReadonlyArray<{ index: number; leaf: Leaf }>,
): { index: number; leaf: LeafOf<'groups.declared'> } | undefined {
  for (let i = leaves.length - 1; i >= 0; i--) {
    const l = leaves[i]!;
    if (l.leaf.type === 'groups.declared')
      return l as { index: number; leaf: LeafOf<'groups.declared'> };
  }
  return undefined;
}

const sameKeys = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && [...a].sort().every((k, i) => k === [...b].sort()[i]);
