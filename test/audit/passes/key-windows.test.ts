import { describe, expect, it } from 'vitest';
import { equivocations } from '../../../src/audit/proof.js';
import { collectObservations } from '../../../src/audit/observations.js';
import { timestampKeyWindows } from '../../../src/audit/key-windows.js';
import type { Leaf } from '../../../src/log/leaves.js';
import {
  agent,
  indexed,
  receipt,
  receiptsLeaf,
  tickStart,
  timestamp,
  timestampRole,
} from './build.js';

// Root 1's timestamp key was retired by root 2 at tick 10. Whoever still holds it (the thief the
// rotation was for) signs a second statement for tick 12: that must count for nothing, never as the
// operator's equivocation.
const old = timestampRole();
const current = timestampRole();
const keys = new Map([...old.keys, ...current.keys]);
const roots = [
  { version: 1, keyids: [old.key.keyid] },
  { version: 2, keyids: [current.key.keyid] },
];
const rotation: Leaf = {
  type: 'change.activated',
  v: 1,
  role: 'root',
  metadata_version: 2,
  tick: 10,
  snapshot_version: 3,
  snapshot_sha256: '0'.repeat(64),
  timestamp_sha256: '0'.repeat(64),
  metadata: '{}',
};

function observe(docs: ReturnType<typeof timestamp>[], windows = true) {
  const a = agent();
  const leaves = indexed([
    receiptsLeaf(
      docs,
      docs.map((d) => receipt(a, d, { group: 'eu', firstAt: tickStart(12) })),
    ),
  ]);
  return collectObservations({
    leaves,
    external: [],
    timestampKeys: keys,
    vouched: () => true,
    ...(windows ? { keyWindows: timestampKeyWindows(roots, indexed([rotation])) } : {}),
  });
}

describe('timestamp keys in force', () => {
  it('windows: a key from its root on, until the next root takes effect', () => {
    const windows = timestampKeyWindows(roots, indexed([rotation]));
    expect(windows.get(old.key.keyid)).toEqual([[0, 10]]);
    expect(windows.get(current.key.keyid)).toEqual([[10, Infinity]]);
    // A log that does not say when root 2 took effect leaves every window open, as before.
    expect(timestampKeyWindows(roots, []).get(old.key.keyid)).toEqual([[0, Infinity]]);
  });

  it('a retired key signing a later tick: not admitted, so no equivocation against the operator', () => {
    const honest = timestamp(current.key, 12, 7);
    const forged = timestamp(old.key, 12, 6);
    const { documents, seen, notes } = observe([honest, forged]);
    expect([...documents.keys()]).toEqual([honest.digest]);
    expect(equivocations(documents, seen)).toEqual([]);
    expect(notes.map((n) => n.message)).toEqual([
      expect.stringMatching(/only by timestamp keys not in force then/),
    ]);
    // Without the windows (the old behaviour) the same pair was proof of equivocation.
    const unbounded = observe([honest, forged], false);
    expect(equivocations(unbounded.documents, unbounded.seen)).toHaveLength(1);
  });

  it('the retired key for a tick while it was in force still counts', () => {
    const before = timestamp(old.key, 8, 5);
    expect([...observe([before]).documents.keys()]).toEqual([before.digest]);
  });
});
