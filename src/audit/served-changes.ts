import { countAtMost } from '../common/sorted.js';
import type { Leaf, LeafOf } from '../log/leaves.js';
import { sha256Hex } from '../tuf/metadata.js';
import type { VerifiedDocument } from '../tuf/timestamp-document.js';
import type { AuditOptions, Finding } from './report.js';
import type { RollupDigest } from './digest/rollups.js';

// Proof that nothing was served the log does not hold. A snapshot version changes only on a renewal
// (every period) or at a tick where something activated, and from the tick a `changes.logged` leaf
// names on, every such tick has its leaf: a release or halt (committed by its schedule, opened by its
// activation) or any other change (a refresh, a key rotation, a registration, a root: `change.scheduled`
// then `change.activated`). So the snapshot version of every tick is a function of the log; a
// server-signed timestamp, or the log's own leaves, naming a later version than that function is a
// change served with no leaf.

type Indexed<T> = { index: number; leaf: T };

/** A logged snapshot version at a tick: where the count of later versions starts from. */
interface Anchor {
  tick: number;
  version: number;
  index: number;
}

export function servedChanges(input: {
  /** The log's leaves of one type, in log order. */
  of: <T extends Leaf['type']>(type: T) => ReadonlyArray<Indexed<LeafOf<T>>>;
  /** The nodes' roll-ups, folded. */
  rollups: RollupDigest;
  documents: ReadonlyMap<string, VerifiedDocument>;
  now: number;
  options: Pick<AuditOptions, 'activationGraceMs'>;
  tickStart: (k: number) => number;
}): Finding[] {
  const { of } = input;
  const logged = of('changes.logged')[0];
  // A log from before changes were logged: its refreshes and rotations have no leaves to hold them to.
  if (!logged) return [];
  const from = logged.leaf.from_tick;
  const period = logged.leaf.snapshot_period_ticks;
  const findings = uncommitted(of('change.scheduled'), of('change.activated'), from);

  const anchors: Anchor[] = [
    ...of('release.activated').map(({ index, leaf }) => ({
      tick: leaf.tick,
      version: leaf.snapshot_version,
      index,
    })),
    ...of('change.activated').map(({ index, leaf }) => ({
      tick: leaf.tick,
      version: leaf.snapshot_version,
      index,
    })),
  ]
    .filter((a) => a.tick >= from)
    .sort((a, b) => a.tick - b.tick || a.index - b.index);
  // Every tick at which the snapshot changed for something the log holds. A schedule's tick counts
  // even when a halt withdrew it first (the repository counts every staged version's tick), and an
  // embargo's move makes the latest schedule of a version the one that counts.
  const latestSchedule = new Map<string, { index: number; tick: number }>();
  for (const { index, leaf } of [...of('release.scheduled'), ...of('release.halted')]) {
    const id = `${leaf.vendor}/${leaf.metadata_version}`;
    if ((latestSchedule.get(id)?.index ?? -1) < index)
      latestSchedule.set(id, { index, tick: leaf.activation_tick });
  }
  const onBoundary = (k: number) => k <= 1 || (k - 1) % period === 0;
  const changeTicks = [
    ...new Set([
      ...anchors.map((a) => a.tick),
      ...[...latestSchedule.values()].map((s) => s.tick),
      ...supersededChangeTicks(of),
    ]),
  ]
    .filter((k) => !onBoundary(k))
    .sort((a, b) => a - b);
  const renewals = (a: number, k: number) =>
    Math.floor((k - 1) / period) - Math.floor((a - 1) / period);
  const changesIn = (a: number, k: number) =>
    countAtMost(changeTicks, k) - countAtMost(changeTicks, a);
  const baseline: Anchor = {
    tick: from,
    version: logged.leaf.snapshot_version,
    index: logged.index,
  };
  /** The last anchor at or before tick k (strictly before, for an anchor checked against the others). */
  const anchorTicks = anchors.map((a) => a.tick);
  const anchorFor = (k: number, strictly: boolean): Anchor =>
    anchors[countAtMost(anchorTicks, strictly ? k - 1 : k) - 1] ?? baseline;
  /** The version the log explains at tick k, counted from `anchor`. */
  const expectedAt = (k: number, anchor: Anchor): number =>
    anchor.version + renewals(anchor.tick, k) + changesIn(anchor.tick, k);
  const judged = (k: number) =>
    k >= from && input.tickStart(k) + input.options.activationGraceMs <= input.now;

  // The log's own activations must agree with each other: a version between two of them that no leaf
  // explains is a change the log left out (or a leaf that names a version nothing served).
  for (const a of anchors) {
    if (a.tick <= from) continue;
    const anchor = anchorFor(a.tick, true);
    const version = expectedAt(a.tick, anchor);
    if (a.version !== version)
      findings.push(
        unlogged(a.tick, a.version, version, { logged_leaf: a.index, since_leaf: anchor.index }),
      );
  }
  // Every statement the server signed, for a tick the log has had time to explain.
  const reported = new Set<string>();
  for (const doc of [...input.documents.values()].sort((a, b) => a.tick - b.tick)) {
    if (!judged(doc.tick)) continue;
    const anchor = anchorFor(doc.tick, false);
    const version = expectedAt(doc.tick, anchor);
    if (doc.snapshotVersion <= version) continue;
    const key = `${doc.tick}/${doc.snapshotVersion}`;
    if (reported.has(key)) continue;
    reported.add(key);
    findings.push(
      unlogged(doc.tick, doc.snapshotVersion, version, {
        document: doc.bytes.toString(),
        since_leaf: anchor.index,
      }),
    );
  }
  // And every version a node's own roll-up says it served, at the first tick any did (the versions
  // the log explains only grow with the tick, so the first serving is the one to hold to it).
  for (const [v, first] of input.rollups.firstServed) {
    const k = first.tick;
    if (!judged(k)) continue;
    const anchor = anchorFor(k, false);
    const version = expectedAt(k, anchor);
    if (v <= version) continue;
    const key = `${k}/${v}`;
    if (reported.has(key)) continue;
    reported.add(key);
    findings.push(unlogged(k, v, version, { rollup_leaf: first.leaf, since_leaf: anchor.index }));
  }
  return findings;
}

/**
 * The ticks of changes (a refresh, a registration) that a later version, logged as active at or before
 * that tick, had already superseded: nothing of theirs is ever served, yet the repository moves the
 * snapshot version at their tick as for every staged version. Any other committed change that moved
 * the snapshot must have its own activation leaf.
 */
function supersededChangeTicks(
  of: <T extends Leaf['type']>(type: T) => ReadonlyArray<Indexed<LeafOf<T>>>,
): number[] {
  const live = new Map<string, Array<{ version: number; tick: number }>>();
  const add = (role: string, version: number, tick: number) => {
    const list = live.get(role) ?? [];
    list.push({ version, tick });
    live.set(role, list);
  };
  for (const { leaf } of of('release.activated'))
    add(leaf.vendor, leaf.metadata_version, leaf.tick);
  for (const { leaf } of of('change.activated')) add(leaf.role, leaf.metadata_version, leaf.tick);
  const latest = new Map<string, LeafOf<'change.scheduled'>>();
  for (const { leaf } of of('change.scheduled'))
    latest.set(`${leaf.role}/${leaf.metadata_version}`, leaf);
  const ticks: number[] = [];
  for (const c of latest.values())
    if (
      (live.get(c.role) ?? []).some(
        (a) => a.version > c.metadata_version && a.tick <= c.activation_tick,
      )
    )
      ticks.push(c.activation_tick);
  return ticks;
}

function unlogged(
  tick: number,
  served: number,
  explained: number,
  evidence: Record<string, unknown>,
): Finding {
  return {
    kind: 'change-unlogged',
    class: 'proof',
    unfair: true,
    message: `snapshot version ${served} was served at tick ${tick}, but the log explains only version ${explained} there: a change was served that the log does not hold`,
    evidence: { tick, snapshot_version: served, explained_version: explained, ...evidence },
  };
}

/**
 * Proof: a change went live that was not committed before it, or not as committed (its metadata does not
 * hash to the commitment, or the commitment named another tick).
 */
function uncommitted(
  scheduled: ReadonlyArray<Indexed<LeafOf<'change.scheduled'>>>,
  activated: ReadonlyArray<Indexed<LeafOf<'change.activated'>>>,
  from: number,
): Finding[] {
  // A version an embargo moved is committed again for its new tick: any commitment before the
  // activation that matches it counts.
  const commitments = new Map<string, Array<Indexed<LeafOf<'change.scheduled'>>>>();
  for (const s of scheduled) {
    const id = `${s.leaf.role}/${s.leaf.metadata_version}`;
    const list = commitments.get(id) ?? [];
    list.push(s);
    commitments.set(id, list);
  }
  const out: Finding[] = [];
  for (const { index, leaf } of activated) {
    if (leaf.tick < from) continue;
    const id = `${leaf.role}/${leaf.metadata_version}`;
    const all = commitments.get(id) ?? [];
    const before = all.filter((c) => c.index < index);
    const sha = sha256Hex(Buffer.from(leaf.metadata, 'utf8'));
    if (before.some((c) => c.leaf.metadata_sha256 === sha && c.leaf.activation_tick === leaf.tick))
      continue;
    const c = before.at(-1) ?? all[0];
    const problem = !c
      ? 'was never committed'
      : c.index > index
        ? `was committed only after it went live (leaf ${c.index})`
        : c.leaf.metadata_sha256 !== sha
          ? `went live with metadata that does not hash to its commitment (leaf ${c.index})`
          : `was committed for tick ${c.leaf.activation_tick} (leaf ${c.index})`;
    out.push({
      kind: 'change-uncommitted',
      class: 'proof',
      unfair: true,
      message: `${id}, live at tick ${leaf.tick} (leaf ${index}), ${problem}`,
      evidence: { activated_leaf: index, ...(c ? { scheduled_leaf: c.index } : {}) },
    });
  }
  return out;
}
