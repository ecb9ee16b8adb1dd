import { FairpatchError } from '../errors.js';
import { type KeyPair, type TufKey, keyIdOf, tufKey } from './keys.js';
import {
  type DelegatedRole,
  type Envelope,
  type MetaFile,
  type RootSigned,
  type SnapshotSigned,
  type TargetsSigned,
  type TimestampSigned,
  SPEC_VERSION,
  assertThreshold,
} from './metadata.js';
import { isoSeconds } from './time.js';

export interface RootKeys {
  root: { keys: KeyPair[] | TufKey[]; threshold: number };
  targets: KeyPair | TufKey;
  snapshot: KeyPair | TufKey;
  timestamp: KeyPair | TufKey;
}

const asTufKey = (k: KeyPair | TufKey): TufKey => ('keytype' in k ? k : tufKey(k.publicKey));

/** Builds root metadata (TUF spec 4.3); every top-level role here is single-key except root. */
export function buildRoot(version: number, expiresMs: number, keys: RootKeys): RootSigned {
  const all: Record<string, TufKey> = {};
  const ids = (list: Array<KeyPair | TufKey>): string[] =>
    list.map((k) => {
      const key = asTufKey(k);
      const id = keyIdOf(key);
      all[id] = key;
      return id;
    });
  const roles = {
    root: { keyids: ids(keys.root.keys), threshold: keys.root.threshold },
    targets: { keyids: ids([keys.targets]), threshold: 1 },
    snapshot: { keyids: ids([keys.snapshot]), threshold: 1 },
    timestamp: { keyids: ids([keys.timestamp]), threshold: 1 },
  };
  if (keys.root.threshold < 1 || keys.root.threshold > roles.root.keyids.length) {
    throw new FairpatchError(
      'BAD_REQUEST',
      `root threshold ${keys.root.threshold} of ${roles.root.keyids.length} keys is impossible`,
    );
  }
  return {
    _type: 'root',
    spec_version: SPEC_VERSION,
    version,
    expires: isoSeconds(expiresMs),
    consistent_snapshot: true,
    keys: all,
    roles,
  };
}

/**
 * TUF spec 5.3.4-5.3.5: version N+1 of root must be signed by a threshold of the keys of root N
 * and by a threshold of its own root keys, and its version must be exactly N+1.
 */
export function assertRootSuccessor(trusted: RootSigned, next: Envelope<RootSigned>): void {
  if (next.signed.version !== trusted.version + 1) {
    throw new FairpatchError(
      'VERSION_CONFLICT',
      `root version ${next.signed.version} does not follow ${trusted.version}`,
    );
  }
  assertThreshold(
    next,
    trusted.roles.root,
    trusted.keys,
    `root ${next.signed.version} (old root keys)`,
  );
  assertThreshold(
    next,
    next.signed.roles.root,
    next.signed.keys,
    `root ${next.signed.version} (new root keys)`,
  );
}

export interface VendorDelegation {
  name: string;
  key: TufKey;
}

/** Top-level targets: no targets of its own, one terminating `<vendor>/*` delegation per vendor. */
export function buildTopTargets(
  version: number,
  expiresMs: number,
  vendors: readonly VendorDelegation[],
): TargetsSigned {
  const keys: Record<string, TufKey> = {};
  const roles: DelegatedRole[] = [...vendors]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map(({ name, key }) => {
      const id = keyIdOf(key);
      keys[id] = key;
      return { name, keyids: [id], threshold: 1, paths: [`${name}/*`], terminating: true };
    });
  return {
    _type: 'targets',
    spec_version: SPEC_VERSION,
    version,
    expires: isoSeconds(expiresMs),
    targets: {},
    delegations: { keys, roles },
  };
}

export function buildSnapshot(
  version: number,
  expiresMs: number,
  meta: Record<string, MetaFile>,
): SnapshotSigned {
  return {
    _type: 'snapshot',
    spec_version: SPEC_VERSION,
    version,
    expires: isoSeconds(expiresMs),
    meta,
  };
}

/**
 * `fairpatch_clock` tells every client, under the timestamp key it already trusts, how versions map
 * to time (version k is tick k, starting at epoch + (k-1)·tick): an agent can then see, from its own
 * clock, that it is being served an old tick. TUF clients keep unrecognized fields (spec 4.1) and
 * verify the signature over them.
 */
export function buildTimestamp(
  version: number,
  expiresMs: number,
  snapshot: MetaFile,
  clock?: { epochMs: number; tickMs: number },
): TimestampSigned {
  return {
    _type: 'timestamp',
    spec_version: SPEC_VERSION,
    version,
    expires: isoSeconds(expiresMs),
    meta: { 'snapshot.json': snapshot },
    ...(clock ? { fairpatch_clock: { epoch_ms: clock.epochMs, tick_ms: clock.tickMs } } : {}),
  };
}
