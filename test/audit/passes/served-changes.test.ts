import { describe, expect, it } from 'vitest';
import { servedChanges } from '../../../src/audit/served-changes.js';
import type { Leaf, LeafOf } from '../../../src/log/leaves.js';
import type { VerifiedDocument } from '../../../src/tuf/timestamp-document.js';
import { sha256Hex } from '../../../src/tuf/metadata.js';
import { digestOf } from '../../../src/audit/digest/log-digest.js';
import {
  activated,
  indexed,
  options,
  scheduled,
  tickStart,
  timestamp,
  timestampRole,
  vendorMetadata,
  verified,
} from './build.js';

// The snapshot version of every tick from `changes.logged` on is a function of the log: the last
// logged activation, plus one per renewal, plus one per tick something logged activates. Anything a
// signed timestamp, a roll-up or an activation leaf names beyond that is a change the log left out.

const PERIOD = 1000; // ticks between renewals: none in these logs unless a test crosses one
const GRACE = 60_000;
const role = timestampRole();
const release = vendorMetadata(2, { 'acme/fix.tar': 'agent 1.0.1' });
const refresh = vendorMetadata(3, { 'acme/fix.tar': 'agent 1.0.1' });

const logged = (from: number, version: number): LeafOf<'changes.logged'> => ({
  type: 'changes.logged',
  v: 1,
  from_tick: from,
  snapshot_version: version,
  snapshot_period_ticks: PERIOD,
});
const changeScheduled = (
  version: number,
  tick: number,
  metadata: string,
): LeafOf<'change.scheduled'> => ({
  type: 'change.scheduled',
  v: 1,
  role: 'acme',
  metadata_version: version,
  metadata_sha256: sha256Hex(Buffer.from(metadata, 'utf8')),
  activation_tick: tick,
});
const changeActivated = (
  version: number,
  tick: number,
  snapshot: number,
  metadata: string,
): LeafOf<'change.activated'> => ({
  type: 'change.activated',
  v: 1,
  role: 'acme',
  metadata_version: version,
  tick,
  snapshot_version: snapshot,
  snapshot_sha256: sha256Hex(Buffer.from(`snapshot ${snapshot}`)),
  timestamp_sha256: sha256Hex(Buffer.from(`timestamp ${tick}`)),
  metadata,
});
const rollup = (tick: number, version: number): LeafOf<'delivery.rollup'> => ({
  type: 'delivery.rollup',
  v: 1,
  node: 'n1',
  from_tick: tick,
  to_tick: tick,
  groups: {
    'eu-west': {
      polls: 1,
      versions: { [String(version)]: { polls: 1, first_tick: tick, last_tick: tick } },
    },
  },
});

/** Documents as the auditor holds them: signed by the timestamp key, one per (tick, snapshot). */
const docs = (...pairs: Array<[number, number]>) =>
  new Map<string, VerifiedDocument>(
    pairs.map(([tick, snapshot]) => {
      const doc = timestamp(role.key, tick, snapshot);
      return [doc.digest, verified(doc, role.keys)];
    }),
  );

function check(
  leaves: Leaf[],
  documents = new Map<string, VerifiedDocument>(),
  now = tickStart(100) + GRACE,
) {
  const all = indexed(leaves);
  return servedChanges({
    of: <T extends Leaf['type']>(type: T) =>
      all.filter((l): l is { index: number; leaf: LeafOf<T> } => l.leaf.type === type),
    rollups: digestOf(all).rollups,
    documents,
    now,
    options: options({ activationGraceMs: GRACE }),
    tickStart,
  });
}

/** From tick 10 (snapshot 4): a release at 20 (5), a refresh at 40 (6), each committed before. */
const honest: Leaf[] = [
  logged(10, 4),
  scheduled('acme', 2, 20, release),
  activated('acme', 2, 20, 5, release),
  changeScheduled(3, 40, refresh),
  changeActivated(3, 40, 6, refresh),
];

describe('servedChanges', () => {
  it('an honest log and what it served: nothing', () => {
    expect(check(honest, docs([10, 4], [19, 4], [20, 5], [39, 5], [40, 6], [99, 6]))).toEqual([]);
  });

  it('a log from before changes were logged: no check at all', () => {
    expect(check(honest.slice(1), docs([30, 9]))).toEqual([]);
  });

  it('a signed statement naming a version nothing explains: change-unlogged (proof)', () => {
    const findings = check(honest, docs([30, 6], [30, 5]));
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      kind: 'change-unlogged',
      class: 'proof',
      unfair: true,
      evidence: { tick: 30, snapshot_version: 6, explained_version: 5, since_leaf: 2 },
    });
  });

  it('a statement too recent for its activation to be logged yet is not judged', () => {
    expect(check(honest, docs([99, 7]), tickStart(99) + GRACE - 1)).toEqual([]);
    expect(check(honest, docs([99, 7]), tickStart(99) + GRACE)).toHaveLength(1);
  });

  it('renewals explain one version per period, counted from the last activation', () => {
    const crossing = [...honest];
    // Tick 1001 starts a new period: one more version, with nothing logged.
    expect(
      check(crossing, docs([1000, 6], [1001, 7]), tickStart(1001) + GRACE).map((f) => f.kind),
    ).toEqual([]);
    expect(
      check(crossing, docs([1001, 8]), tickStart(1001) + GRACE).map((f) => f.evidence.tick),
    ).toEqual([1001]);
  });

  it('a release withdrawn before its tick still counts its tick (the repository bumps it)', () => {
    const halted = [
      logged(10, 4),
      scheduled('acme', 2, 20, release),
      { ...scheduled('acme', 3, 15, refresh), type: 'release.halted' } as Leaf,
      activated('acme', 3, 15, 5, refresh),
    ];
    expect(check(halted, docs([15, 5], [20, 6], [50, 6]))).toEqual([]);
  });

  it('a refresh a later release superseded before its tick still moves the version at its tick', () => {
    // acme 3 (a refresh) committed for tick 50; acme 4 (a release) live at 45 supersedes it, but the
    // repository still moves the snapshot version at 50.
    const fix = vendorMetadata(4, { 'acme/fix.tar': 'agent 1.0.1', 'acme/b.tar': 'agent 1.0.2' });
    const superseded = [
      ...honest.slice(0, 3),
      changeScheduled(3, 50, refresh),
      scheduled('acme', 4, 45, fix),
      activated('acme', 4, 45, 6, fix),
    ];
    expect(check(superseded, docs([45, 6], [50, 7], [60, 7]))).toEqual([]);
    // Not superseded: a committed refresh that moved the version with no activation leaf is caught.
    const unopened = [...honest.slice(0, 3), changeScheduled(3, 50, refresh)];
    expect(check(unopened, docs([50, 6])).map((f) => f.kind)).toEqual(['change-unlogged']);
  });

  it("the log's own activations that skip a version: change-unlogged", () => {
    const skipping = [...honest.slice(0, 4), changeActivated(3, 40, 7, refresh)];
    expect(check(skipping).map((f) => [f.kind, f.evidence.tick, f.evidence.logged_leaf])).toEqual([
      ['change-unlogged', 40, 4],
    ]);
  });

  it("a node's roll-up admitting a version nothing explains: change-unlogged", () => {
    expect(check([...honest, rollup(30, 6)]).map((f) => f.evidence.rollup_leaf)).toEqual([5]);
    expect(check([...honest, rollup(30, 5)])).toEqual([]);
  });

  it('a version served before changes were logged is still held to the log once it is served after', () => {
    // Snapshot 6 served at tick 3, before the log logged changes: not judged. Served again at 30,
    // where the log explains 5: change-unlogged, from the later roll-up, however roll-ups are folded.
    const findings = check([rollup(3, 6), ...honest, rollup(30, 6)]);
    expect(findings.map((f) => [f.kind, f.evidence.tick, f.evidence.rollup_leaf])).toEqual([
      ['change-unlogged', 30, 6],
    ]);
  });

  it('a change live without its commitment, after it, or not as committed: change-uncommitted', () => {
    const kinds = (leaves: Leaf[]) =>
      check(leaves)
        .filter((f) => f.kind === 'change-uncommitted')
        .map((f) => f.message);
    expect(kinds([...honest.slice(0, 3), changeActivated(3, 40, 6, refresh)])).toEqual([
      'acme/3, live at tick 40 (leaf 3), was never committed',
    ]);
    expect(
      kinds([
        ...honest.slice(0, 3),
        changeActivated(3, 40, 6, refresh),
        changeScheduled(3, 40, refresh),
      ]),
    ).toEqual(['acme/3, live at tick 40 (leaf 3), was committed only after it went live (leaf 4)']);
    expect(
      kinds([
        ...honest.slice(0, 3),
        changeScheduled(3, 40, release),
        changeActivated(3, 40, 6, refresh),
      ]),
    ).toEqual([
      'acme/3, live at tick 40 (leaf 4), went live with metadata that does not hash to its commitment (leaf 3)',
    ]);
    expect(
      kinds([
        ...honest.slice(0, 3),
        changeScheduled(3, 41, refresh),
        changeActivated(3, 40, 6, refresh),
      ]),
    ).toEqual(['acme/3, live at tick 40 (leaf 4), was committed for tick 41 (leaf 3)']);
    // Moved, and committed again for the new tick before it: the latest promise is kept.
    expect(
      kinds([
        ...honest.slice(0, 3),
        changeScheduled(3, 30, refresh),
        changeScheduled(3, 40, refresh),
        changeActivated(3, 40, 6, refresh),
      ]),
    ).toEqual([]);
  });
});
