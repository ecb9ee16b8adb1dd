import { decisionCommitment, embargoCommitment } from '../log/embargo-leaves.js';
import type { LeafOf } from '../log/leaves.js';
import type { EmbargoReport, Finding, ReleaseReport } from './report.js';

type Indexed<T> = { index: number; leaf: T };

/**
 * One view per advisory, from the log alone. Each revealed embargo must open the commitments made
 * before its tick (the creation and every decision, in order): otherwise the operator rewrote who was
 * in it or what was decided, which its own signed log proves. Then every member that shipped must
 * have activated at the embargo's tick in one snapshot version (one timestamp flipped the set); a
 * member activated at another tick or in another snapshot version is proof the set was split, and a
 * member's release found served early (early-release, from a timestamp the server signed for an
 * earlier tick) marks the member early here too.
 */
export function embargoesFrom(input: {
  created: ReadonlyArray<Indexed<LeafOf<'embargo.created'>>>;
  decided: ReadonlyArray<Indexed<LeafOf<'embargo.decided'>>>;
  revealed: ReadonlyArray<Indexed<LeafOf<'embargo.revealed'>>>;
  releases: readonly ReleaseReport[];
  findings: readonly Finding[];
  tickStart: (k: number) => number;
}): { embargoes: EmbargoReport[]; findings: Finding[] } {
  const findings: Finding[] = [];
  const embargoes: EmbargoReport[] = [];
  for (const { index, leaf } of input.revealed) {
    const commitment = embargoCommitment(leaf.id, leaf.members, leaf.nonce);
    const broken = (message: string, evidence: Record<string, unknown>) =>
      findings.push({
        kind: 'embargo-commitment-mismatch',
        class: 'proof',
        unfair: true,
        message: `embargo ${leaf.id}: ${message}`,
        evidence: { revealed_leaf: index, ...evidence },
      });
    const created = input.created.find((c) => c.leaf.commitment === commitment);
    if (!created || created.index > index)
      broken('its reveal opens no commitment made before it (members or id rewritten)', {
        commitment,
      });
    const decided = input.decided.filter((d) => d.leaf.commitment === commitment);
    if (decided.length !== leaf.decisions.length)
      broken(`${decided.length} decisions were committed, ${leaf.decisions.length} revealed`, {
        committed: decided.map((d) => d.index),
      });
    leaf.decisions.forEach((d, i) => {
      const committed = decided.find((c) => c.leaf.seq === i + 1);
      if (
        committed &&
        committed.leaf.decision_sha256 !== decisionCommitment(leaf.id, leaf.nonce, i + 1, d)
      )
        broken(`decision ${i + 1} revealed is not the one committed`, {
          decided_leaf: committed.index,
        });
    });

    const tick = leaf.activation_tick;
    const report: EmbargoReport = {
      id: leaf.id,
      tick,
      tickStart: input.tickStart(tick),
      members: {},
      leftOut: leaf.left_out,
      decisions: leaf.decisions,
      revealedLeaf: index,
    };
    const versions = new Set<number>();
    const activatedLeaves: number[] = [];
    for (const vendor of leaf.members) {
      if (leaf.left_out.includes(vendor)) {
        report.members[vendor] = { status: 'left-out', groups: {} };
        continue;
      }
      // The member's release committed for the embargo's tick (its latest schedule, after any move).
      const release = input.releases.find((r) => r.vendor === vendor && r.scheduledTick === tick);
      if (!release) {
        report.members[vendor] = { status: 'not-shipped', groups: {} };
        continue;
      }
      const act = release.activation;
      const early = input.findings.some(
        (f) => f.kind === 'early-release' && f.release === release.id,
      );
      report.members[vendor] = {
        // Withdrawn by its vendor's halt before the tick: it was never going to ship.
        status: early
          ? 'early'
          : act
            ? 'shipped'
            : release.withdrawn?.beforeLive
              ? 'not-shipped'
              : 'pending',
        release: release.id,
        ...(act ? { activationTick: act.tick, snapshotVersion: act.snapshotVersion } : {}),
        groups: Object.fromEntries(
          Object.entries(release.groups).map(([g, d]) => [
            g,
            {
              firstDeliveryMs: d.firstDeliveryMs,
              ...(d.lastWithoutMs !== undefined ? { lastWithoutMs: d.lastWithoutMs } : {}),
            },
          ]),
        ),
      };
      if (act) {
        versions.add(act.snapshotVersion);
        activatedLeaves.push(act.leaf);
      }
      if (act && act.tick !== tick) {
        findings.push({
          kind: 'embargo-split',
          class: 'proof',
          unfair: true,
          release: release.id,
          message: `embargo ${leaf.id}: ${vendor} activated at tick ${act.tick}, not at the embargo's tick ${tick}`,
          evidence: { revealed_leaf: index, activated_leaf: act.leaf },
        });
      }
    }
    if (versions.size > 1) {
      findings.push({
        kind: 'embargo-split',
        class: 'proof',
        unfair: true,
        message: `embargo ${leaf.id}: its members went live in snapshot versions ${[...versions].sort((a, b) => a - b).join(', ')}, not one`,
        // The reveal and the members' activation leaves, each naming its snapshot version.
        evidence: { revealed_leaf: index, activated_leaves: activatedLeaves },
      });
    }
    if (versions.size === 1) report.snapshotVersion = [...versions][0];
    embargoes.push(report);
  }
  return { embargoes, findings };
}
