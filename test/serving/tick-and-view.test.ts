import { describe, expect, it } from 'vitest';
import { activationTick, tickAt, tickStart } from '../../src/common/tick.js';
import type { CommittedState, StoredVersion } from '../../src/serving/state.js';
import { RepositoryView } from '../../src/serving/view.js';
import { generateKeyPair } from '../../src/tuf/keys.js';
import { sha256Hex } from '../../src/tuf/metadata.js';

const cfg = { epochMs: 1_000_000, tickMs: 1000 };

describe('the tick clock', () => {
  it('numbers ticks from 1 at the epoch', () => {
    expect(tickAt(cfg, cfg.epochMs)).toBe(1);
    expect(tickAt(cfg, cfg.epochMs + 999)).toBe(1);
    expect(tickAt(cfg, cfg.epochMs + 1000)).toBe(2);
    expect(tickStart(cfg, 2)).toBe(cfg.epochMs + 1000);
  });

  it('activates at the first tick starting at or after release_at, never one tick early', () => {
    expect(activationTick(cfg, cfg.epochMs + 5000)).toBe(6);
    expect(tickStart(cfg, 6)).toBe(cfg.epochMs + 5000);
    expect(activationTick(cfg, cfg.epochMs + 5001)).toBe(7);
    for (let at = cfg.epochMs; at < cfg.epochMs + 3000; at += 137) {
      const k = activationTick(cfg, at);
      expect(tickStart(cfg, k)).toBeGreaterThanOrEqual(at);
      expect(tickStart(cfg, k - 1)).toBeLessThan(at);
    }
  });
});

const version = (v: number, activation: number): StoredVersion => {
  const bytes = Buffer.from(JSON.stringify({ signed: { targets: {} }, signatures: [], v }));
  return {
    version: v,
    effectiveAt: tickStart(cfg, activation),
    activationTick: activation,
    bytes,
    sha256: sha256Hex(bytes),
    length: bytes.length,
  };
};

function view(vendor: StoredVersion[]): RepositoryView {
  const state: CommittedState = {
    config: {
      ...cfg,
      freshnessMs: 300_000,
      snapshotPeriodMs: 100_000,
      snapshotLifetimeMs: 700_000,
    },
    roots: [Buffer.from('{}')],
    rootTicks: [1],
    topTargets: [version(1, 1)],
    vendors: new Map([['acme', vendor]]),
  };
  const keys = { snapshot: generateKeyPair(), timestamp: generateKeyPair() };
  return new RepositoryView(state, () => keys);
}

describe('the view at tick k', () => {
  it('switches to a new root at its tick: its keys sign from then on, in a new snapshot version, and it is served from then on', () => {
    const state = {
      ...view([version(1, 1)]).state,
      roots: [Buffer.from('{"v":1}'), Buffer.from('{"v":2}')],
      rootTicks: [1, 60],
    };
    const keys = [1, 2].map(() => ({ snapshot: generateKeyPair(), timestamp: generateKeyPair() }));
    const v = new RepositoryView(state, (root) => keys[root - 1]!);
    const signer = (bytes: Buffer) =>
      (JSON.parse(bytes.toString()) as { signatures: Array<{ keyid: string }> }).signatures[0]!
        .keyid;
    expect([59, 60].map((k) => v.rootVersionAt(k))).toEqual([1, 2]);
    expect(signer(v.timestampAt(59))).toBe(keys[0]!.timestamp.keyid);
    expect(signer(v.timestampAt(60))).toBe(keys[1]!.timestamp.keyid);
    expect(signer(v.snapshotAt(59).bytes)).toBe(keys[0]!.snapshot.keyid);
    expect(signer(v.snapshotAt(60).bytes)).toBe(keys[1]!.snapshot.keyid);
    expect(v.snapshotVersionAt(60)).toBe(v.snapshotVersionAt(59) + 1);
    expect(v.root(2, 59)).toBeUndefined();
    expect(v.root(2, 60)?.toString()).toBe('{"v":2}');
  });

  it('bumps the snapshot version at each activation and each period, and only then', () => {
    const v = view([version(1, 1), version(2, 50), version(3, 250)]);
    // period = 100 ticks: boundaries at 101, 201, ...; activations at 50 and 250.
    expect(
      [1, 49, 50, 100, 101, 200, 201, 249, 250, 301].map((k) => v.snapshotVersionAt(k)),
    ).toEqual([1, 1, 2, 2, 3, 3, 4, 4, 5, 6]);
    expect(v.segmentStartAt(120)).toBe(101);
    expect(v.segmentStartAt(260)).toBe(250);
  });

  it('renders the same bytes for every tick of a segment and a new timestamp every tick', () => {
    const v = view([version(1, 1), version(2, 50)]);
    expect(v.snapshotAt(60).bytes.equals(v.snapshotAt(99).bytes)).toBe(true);
    expect(v.timestampAt(60).equals(v.timestampAt(61))).toBe(false);
    expect(JSON.parse(v.timestampAt(61).toString()).signed.version).toBe(61);
  });

  it('is deterministic: two views of one state sign identical bytes', () => {
    const keys = { snapshot: generateKeyPair(), timestamp: generateKeyPair() };
    const make = () => new RepositoryView(view([version(1, 1), version(2, 50)]).state, () => keys);
    expect(make().timestampAt(77).equals(make().timestampAt(77))).toBe(true);
  });

  it('serves the highest activated version, and never a halted one that was pending', () => {
    // v2 was due at tick 100, but v3 (a halt, due at 40) superseded it before it was ever served.
    const v = view([version(1, 1), version(2, 100), version(3, 40)]);
    expect(v.servedTargets('acme', 1, 39)).toBeDefined();
    expect(v.servedTargets('acme', 3, 39)).toBeUndefined();
    expect(v.servedTargets('acme', 3, 40)).toBeDefined();
    for (const k of [40, 100, 500]) expect(v.servedTargets('acme', 2, k)).toBeUndefined();
    expect(v.snapshotByVersion(v.snapshotVersionAt(500) + 1, 500)).toBeUndefined();
    expect(v.snapshotByVersion(2, 500)).toEqual(v.snapshotAt(40).bytes);
  });
});
