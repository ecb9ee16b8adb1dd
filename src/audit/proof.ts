import type { LeafOf } from '../log/leaves.js';
import type { VerifiedDocument } from '../tuf/timestamp-document.js';
import type { Seen } from './observations.js';
import type { RollupDigest } from './digest/rollups.js';
import type { AuditOptions, Finding, ReleaseReport } from './report.js';

// Proof: findings that rest on bytes the accused signed (server-signed timestamps, log leaves under a
// checkpoint the log key signed). Each names the signed bytes it rests on in its evidence.

/**
 * Proof: the log committed a release to a tick and then activated it at another tick, or never
 * activated it (past the grace period, unless a halt withdrew it).
 */
export function activationFindings(input: {
  release: {
    report: ReleaseReport;
    activationTick: number;
    activation?: { index: number; leaf: LeafOf<'release.activated'> };
  };
  now: number;
  options: AuditOptions;
  tickStart: (k: number) => number;
}): Finding[] {
  const { report, activationTick, activation } = input.release;
  if (!activation) {
    if (
      !report.halted &&
      input.now > input.tickStart(activationTick) + input.options.activationGraceMs
    ) {
      return [
        {
          kind: 'activation-missing',
          class: 'proof',
          unfair: true,
          release: report.id,
          message: `${report.id} was due at tick ${activationTick} but no activation was logged`,
          evidence: { scheduled_leaf: report.scheduledLeaf },
        },
      ];
    }
    return [];
  }
  if (activation.leaf.tick === activationTick) return [];
  return [
    {
      kind: 'activation-late',
      class: 'proof',
      unfair: true,
      release: report.id,
      message: `${report.id} was committed for tick ${activationTick} and activated at tick ${activation.leaf.tick}`,
      evidence: { scheduled_leaf: report.scheduledLeaf, activated_leaf: activation.index },
    },
  ];
}

/**
 * Proof: two different statements signed for one tick. A statement is the `signed` payload: the same
 * payload in two envelopes (another trusted key's signature added, as in a rotation) is one statement.
 * Both documents verified strictly (src/tuf/timestamp-document.ts), so each signature on them is by a
 * timestamp key of a root this auditor follows: the evidence is the two documents, whose `signed`
 * canonical bytes differ and which the accused's key signed both.
 */
export function equivocations(
  documents: ReadonlyMap<string, VerifiedDocument>,
  seen: readonly Seen[],
): Finding[] {
  const byTick = new Map<number, VerifiedDocument[]>();
  for (const doc of documents.values()) {
    const statements = byTick.get(doc.tick) ?? [];
    byTick.set(doc.tick, statements);
    if (!statements.some((d) => d.signedDigest === doc.signedDigest)) statements.push(doc);
  }
  const groupsOf = (d: VerifiedDocument) =>
    [
      ...new Set(seen.filter((s) => s.doc.signedDigest === d.signedDigest).map((s) => s.group)),
    ].sort();
  const out: Finding[] = [];
  for (const [tick, [first, ...others]] of byTick) {
    for (const doc of others) {
      const other = first as VerifiedDocument;
      const [a, b] = [groupsOf(other), groupsOf(doc)];
      // The groups told something different from the rest are the ones singled out; as many on each
      // side singles out neither (which is "the rest" would be a guess).
      const singled = a.length < b.length ? a : b.length < a.length ? b : [];
      const groups = [...new Set([...a, ...b])].sort();
      out.push({
        kind: 'equivocation',
        class: 'proof',
        unfair: true,
        ...(singled.length === 1 ? { group: singled[0] } : {}),
        message: `two different timestamp documents signed for tick ${tick}: ${a.join(', ') || 'no group'} got one, ${b.join(', ') || 'no group'} the other`,
        evidence: {
          tick,
          documents: [other.bytes.toString(), doc.bytes.toString()],
          signed_sha256: [other.signedDigest, doc.signedDigest],
          groups,
          singled_out: singled,
        },
      });
    }
  }
  return out;
}

/** Proof: a statement for a tick before the activation tick whose snapshot already carries the release. */
export function earlyRelease(
  report: ReleaseReport,
  documents: ReadonlyMap<string, VerifiedDocument>,
  seen: readonly Seen[],
): Finding[] {
  const act = report.activation;
  if (!act) return [];
  const out: Finding[] = [];
  const statements = new Set<string>();
  for (const doc of documents.values()) {
    if (doc.tick >= act.tick || doc.snapshotVersion < act.snapshotVersion) continue;
    // One statement in several envelopes is one finding.
    if (statements.has(doc.signedDigest)) continue;
    statements.add(doc.signedDigest);
    const groups = [
      ...new Set(seen.filter((s) => s.doc.signedDigest === doc.signedDigest).map((s) => s.group)),
    ].sort();
    out.push({
      kind: 'early-release',
      class: 'proof',
      unfair: true,
      release: report.id,
      ...(groups.length === 1 ? { group: groups[0] } : {}),
      message: `a statement for tick ${doc.tick} already carries ${report.id} (snapshot ${doc.snapshotVersion}), which activates at tick ${act.tick}: served early to ${groups.join(', ') || 'someone'}`,
      // The timestamp the accused signed, and the activation leaf (under the log's checkpoint) that
      // puts the release in that snapshot version at a later tick.
      evidence: {
        document: doc.bytes.toString(),
        signed_sha256: doc.signedDigest,
        activated_leaf: act.leaf,
        groups,
      },
    });
  }
  return out;
}

/**
 * Proof: a node's own signed roll-up admits serving a group the old snapshot after activation (its
 * latest such admission, per node, group and version, is the evidence); and how each group was
 * told of the activation by push.
 */
export function rollupAdmissions(report: ReleaseReport, rollups: RollupDigest): Finding[] {
  const act = report.activation;
  if (!act) return [];
  const out: Finding[] = [];
  for (const pushed of rollups.notifications.values()) {
    if (pushed.tick !== act.tick) continue;
    const entry = report.groups[pushed.group] ?? {
      firstDeliveryMs: Number.NaN,
      agents: 0,
      source: 'rollup',
      stalePolls: 0,
      leafIndex: pushed.leaf,
    };
    report.groups[pushed.group] = entry;
    const prev = entry.notification;
    entry.notification = {
      connections: (prev?.connections ?? 0) + pushed.connections,
      delayMs: Math.max(prev?.delayMs ?? 0, pushed.fanoutUs / 1000),
    };
  }
  for (const served of rollups.lastServed.values()) {
    const { node, group: g, version: v, lastTick } = served;
    if (v >= act.snapshotVersion || lastTick < act.tick) continue;
    out.push({
      kind: 'stale-after-activation',
      class: 'proof',
      unfair: true,
      group: g,
      release: report.id,
      message: `node ${node} reports serving group ${g} snapshot ${v} at tick ${lastTick}, after ${report.id} activated at tick ${act.tick}`,
      // The node's own roll-up leaf under the log's checkpoint: it counts a poll only with the
      // tick it answered and that tick's snapshot version (src/serving/accounting.ts), so no
      // request a client shapes (an old versioned path, a slow poll) lands an old version here.
      evidence: {
        leaf: served.leaf,
        node,
        snapshot_version: v,
        last_tick: lastTick,
        activated_leaf: act.leaf,
      },
    });
  }
  return out;
}
