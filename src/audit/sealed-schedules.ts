import { type OpenedSchedule, sealedSchedule } from '../log/embargo-leaves.js';
import type { Leaf } from '../log/leaves.js';
import { canonicalBytes } from '../common/canonical.js';
import type { Finding } from './report.js';

type Indexed = { index: number; leaf: Leaf };

/** The leaf in the clear a sealed schedule stands for, once its embargo's reveal opens it. */
function inTheClear(s: OpenedSchedule): Leaf {
  const { kind, vendor, ...rest } = s;
  if (kind === 'change') return { type: 'change.scheduled', v: 1, role: vendor, ...rest };
  return {
    type: kind === 'release' ? 'release.scheduled' : 'release.halted',
    v: 2,
    vendor,
    ...rest,
  };
}

const sameSchedule = (leaf: Leaf, s: OpenedSchedule): boolean =>
  canonicalBytes(leaf).equals(canonicalBytes(inTheClear(s)));

/**
 * An embargo's members' schedules are committed sealed (`schedule.sealed`: a hash under the embargo's
 * id and nonce) and opened by its `embargo.revealed` (v2). Each sealed leaf a reveal opens is read, at
 * its own index (committed then, before the tick), as the schedule in the clear, so every later pass
 * (releases, served changes, embargoes) checks it as it checks any schedule. Sealed leaves nobody
 * opened stay opaque and count for nothing. A schedule a reveal opens that was committed neither
 * sealed nor in the clear before the reveal is a commitment the operator never made: proof.
 */
export function openSealedSchedules(leaves: readonly Indexed[]): {
  leaves: Indexed[];
  findings: Finding[];
} {
  const sealed = new Map<string, number>();
  for (const { index, leaf } of leaves)
    if (leaf.type === 'schedule.sealed' && !sealed.has(leaf.sealed)) sealed.set(leaf.sealed, index);
  const opened = new Map<number, Leaf>();
  const findings: Finding[] = [];
  for (const { index, leaf } of leaves) {
    if (leaf.type !== 'embargo.revealed' || leaf.v !== 2) continue;
    for (const s of leaf.schedules) {
      const at = sealed.get(sealedSchedule(leaf.id, leaf.nonce, s));
      if (at !== undefined && at < index) {
        opened.set(at, inTheClear(s));
        continue;
      }
      // Staged before the embargo existed, at its exact tick: committed in the clear.
      if (leaves.some((l) => l.index < index && sameSchedule(l.leaf, s))) continue;
      findings.push({
        kind: 'embargo-commitment-mismatch',
        class: 'proof',
        unfair: true,
        message: `embargo ${leaf.id}: its reveal opens a schedule of ${s.vendor} version ${s.metadata_version} for tick ${s.activation_tick} that was never committed before it`,
        evidence: { revealed_leaf: index },
      });
    }
  }
  if (opened.size === 0) return { leaves: [...leaves], findings };
  return {
    leaves: leaves.map((l) => {
      const leaf = opened.get(l.index);
      return leaf ? { index: l.index, leaf } : l;
    }),
    findings,
  };
}
