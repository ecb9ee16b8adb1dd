import { describe, expect, it } from 'vitest';
import { rootNotNamed } from '../../../src/audit/run.js';
import type { Leaf } from '../../../src/log/leaves.js';
import { canonicalBytes } from '../../../src/common/canonical.js';
import { generateKeyPair, tufKey } from '../../../src/tuf/keys.js';
import {
  type RootSigned,
  SPEC_VERSION,
  sha256Hex,
  signEnvelope,
} from '../../../src/tuf/metadata.js';
import { EPOCH, TICK_MS, indexed } from './build.js';

/** A TUF root, one fresh key for every role, signed by that key. */
function root(version: number) {
  const key = generateKeyPair();
  const role = { keyids: [key.keyid], threshold: 1 };
  return signEnvelope<RootSigned>(
    {
      _type: 'root',
      spec_version: SPEC_VERSION,
      version,
      expires: '2030-01-01T00:00:00Z',
      consistent_snapshot: true,
      keys: { [key.keyid]: tufKey(key.publicKey) },
      roles: { root: role, targets: role, snapshot: role, timestamp: role },
    },
    [key],
  );
}
const hashOf = (r: ReturnType<typeof root>) => sha256Hex(canonicalBytes(r));
const created = (r: ReturnType<typeof root>): Leaf => ({
  type: 'repository.created',
  v: 1,
  epoch_ms: EPOCH,
  tick_ms: TICK_MS,
  freshness_ms: 60_000,
  root_sha256: hashOf(r),
});

describe('rootNotNamed', () => {
  it('leaf 0 names the pinned root: nothing', () => {
    const mine = root(1);
    expect(rootNotNamed(indexed([created(mine)]), mine)).toEqual([]);
  });

  it("root-mismatch (cannot verify): another repository's root, never a conviction", () => {
    const mine = root(1);
    const theirs = root(1);
    expect(rootNotNamed(indexed([created(mine)]), theirs)).toEqual([
      {
        kind: 'root-mismatch',
        class: 'cannot-verify',
        unfair: false,
        message:
          'the pinned root (version 1) is not the one this log names: wrong repository, or a root the log never announced',
        evidence: { root_sha256: hashOf(theirs) },
      },
    ]);
  });

  it('a later root counts once a rotation leaf announced it at its version', () => {
    const first = root(1);
    const second = root(2);
    const rotated = (version: number): Leaf => ({
      type: 'keys.rotated',
      v: 1,
      root_version: version,
      root_sha256: hashOf(second),
      keyids: {},
    });
    expect(rootNotNamed(indexed([created(first), rotated(2)]), second)).toEqual([]);
    expect(rootNotNamed(indexed([created(first), rotated(3)]), second).map((f) => f.kind)).toEqual([
      'root-mismatch',
    ]);
  });
});
