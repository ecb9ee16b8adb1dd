import { countAtMost } from '../common/sorted.js';
import type { KeyPair, TufKey } from '../tuf/keys.js';
import {
  type MetaFile,
  type RootSigned,
  type TargetInfo,
  type TargetsSigned,
  envelopeBytes,
  metaFile,
  signEnvelope,
} from '../tuf/metadata.js';
import { buildSnapshot, buildTimestamp } from '../tuf/roles.js';
import type { CommittedState, StoredVersion } from './state.js';
import { tickStart } from '../common/tick.js';
import { FairpatchError } from '../errors.js';

export interface OnlineSigners {
  snapshot: KeyPair;
  timestamp: KeyPair;
}

export interface ServedTarget {
  vendor: string;
  path: string;
  info: TargetInfo;
}

/** The online keys of root `version`; throws when this node lacks them. */
export type SignersOf = (rootVersion: number) => OnlineSigners;

/**
 * The repository as served at tick k: a pure function of (committed state, k, keys). Results are
 * memoized, which is safe because they never change for a given state. Each root is in effect
 * from its tick on: what is served at k is signed with the online keys of the root in effect at k,
 * and a new root's tick starts a new snapshot version, so no version is ever signed by two keys.
 */
export class RepositoryView {
  private readonly periodTicks: number;
  /** Sorted distinct activation ticks > 1 that do not fall on a period boundary. */
  private readonly changeTicks: number[];
  private readonly snapshots = new Map<number, { version: number; bytes: Buffer }>();
  private readonly timestamps = new Map<number, Buffer>();
  private readonly targetsByVersion = new Map<StoredVersion, Map<string, TargetInfo>>();
  private timestampKeyCache: Map<string, TufKey> | undefined;

  constructor(
    readonly state: CommittedState,
    readonly signersOf: SignersOf,
    /** Told how long each tick's rendering took, in seconds (metrics). */
    private readonly onRender: (seconds: number) => void = () => {},
  ) {
    const { snapshotPeriodMs, tickMs } = state.config;
    this.periodTicks = Math.max(1, Math.round(snapshotPeriodMs / tickMs));
    const ticks = new Set<number>();
    const onBoundary = (k: number) => k <= 1 || (k - 1) % this.periodTicks === 0;
    for (const list of [state.topTargets, ...state.vendors.values()]) {
      for (const v of list) if (!onBoundary(v.activationTick)) ticks.add(v.activationTick);
    }
    for (const k of state.rootTicks) if (!onBoundary(k)) ticks.add(k);
    this.changeTicks = [...ticks].sort((a, b) => a - b);
  }

  /** The version of the root in effect at tick k. */
  rootVersionAt(k: number): number {
    let version = 1;
    this.state.rootTicks.forEach((tick, i) => {
      if (tick <= k) version = i + 1;
    });
    return version;
  }

  /** Snapshot version at tick k: one more for every period boundary and every activation so far. */
  snapshotVersionAt(k: number): number {
    return 1 + Math.floor((k - 1) / this.periodTicks) + countAtMost(this.changeTicks, k);
  }

  /** True when some release or halt becomes active exactly at tick k (what the event stream announces). */
  activatesAt(k: number): boolean {
    for (const list of [this.state.topTargets, ...this.state.vendors.values()]) {
      for (const v of list) if (v.activationTick === k && activeAt(list, k) === v) return true;
    }
    return false;
  }

  /** The tick at which the snapshot served at tick k was first served. */
  segmentStartAt(k: number): number {
    const periodStart = 1 + Math.floor((k - 1) / this.periodTicks) * this.periodTicks;
    const i = countAtMost(this.changeTicks, k);
    return Math.max(periodStart, i > 0 ? (this.changeTicks[i - 1] ?? 1) : 1);
  }

  snapshotAt(k: number): { version: number; bytes: Buffer } {
    const version = this.snapshotVersionAt(k);
    const cached = this.snapshots.get(version);
    if (cached) return cached;
    const start = this.segmentStartAt(k);
    const meta: Record<string, MetaFile> = {};
    const top = activeAt(this.state.topTargets, start);
    if (top) meta['targets.json'] = metaFileOf(top);
    for (const [vendor, versions] of this.state.vendors) {
      const active = activeAt(versions, start);
      if (active) meta[`${vendor}.json`] = metaFileOf(active);
    }
    const expires = tickStart(this.state.config, start) + this.state.config.snapshotLifetimeMs;
    const bytes = envelopeBytes(
      signEnvelope(buildSnapshot(version, expires, meta), [
        this.signersOf(this.rootVersionAt(start)).snapshot,
      ]),
    );
    const rendered = { version, bytes };
    this.snapshots.set(version, rendered);
    return rendered;
  }

  /** `V.snapshot.json` as requested by a client; never a version later than the one of tick `now`. */
  snapshotByVersion(version: number, nowTick: number): Buffer | undefined {
    if (version < 1 || version > this.snapshotVersionAt(nowTick)) return undefined;
    // version(k) is non-decreasing: find the first tick that served it.
    let lo = 1;
    let hi = nowTick;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.snapshotVersionAt(mid) >= version) hi = mid;
      else lo = mid + 1;
    }
    return this.snapshotVersionAt(lo) === version ? this.snapshotAt(lo).bytes : undefined;
  }

  /** True when tick k's timestamp is already rendered (a poll will only read it). */
  hasTimestamp(k: number): boolean {
    return this.timestamps.has(k);
  }

  /** timestamp.json of tick k: version k, expiring one freshness window after the tick starts. */
  timestampAt(k: number): Buffer {
    const cached = this.timestamps.get(k);
    if (cached) return cached;
    const t0 = performance.now();
    const snapshot = this.snapshotAt(k);
    const expires = tickStart(this.state.config, k) + this.state.config.freshnessMs;
    const bytes = envelopeBytes(
      signEnvelope(
        buildTimestamp(k, expires, metaFile(snapshot.version, snapshot.bytes), this.state.config),
        [this.signersOf(this.rootVersionAt(k)).timestamp],
      ),
    );
    this.timestamps.set(k, bytes);
    this.onRender((performance.now() - t0) / 1000);
    // Only the current and next ticks matter; keep the map from growing.
    for (const old of this.timestamps.keys()) if (old < k - 4) this.timestamps.delete(old);
    return bytes;
  }

  /** Every timestamp key any root version has named: receipts outlive key rotations. */
  timestampKeys(): ReadonlyMap<string, TufKey> {
    if (!this.timestampKeyCache) {
      this.timestampKeyCache = new Map();
      for (const bytes of this.state.roots) {
        const root = (JSON.parse(bytes.toString('utf8')) as { signed: RootSigned }).signed;
        for (const id of root.roles.timestamp.keyids) {
          const key = root.keys[id];
          if (key) this.timestampKeyCache.set(id, key);
        }
      }
    }
    return this.timestampKeyCache;
  }

  /** Root `version`, once in effect at tick `nowTick`: a client never trusts a root before its keys sign. */
  root(version: number, nowTick: number): Buffer | undefined {
    return (this.state.rootTicks[version - 1] ?? Infinity) <= nowTick
      ? this.state.roots[version - 1]
      : undefined;
  }

  /**
   * A delegated or top-level targets version, only once it has been activated (pending releases stay
   * secret). An old one's bytes may have been let go: `bytes` absent, the store has them.
   */
  servedTargets(role: string, version: number, nowTick: number): StoredVersion | undefined {
    const list = role === 'targets' ? this.state.topTargets : this.state.vendors.get(role);
    const active = list && activeAt(list, nowTick);
    if (!active || version > active.version) return undefined;
    const found = list.find((v) => v.version === version);
    // Served only if it really was the active version at some tick: a release halted before its
    // tick was never public, and stays so.
    return found &&
      found.activationTick <= nowTick &&
      activeAt(list, found.activationTick) === found
      ? found
      : undefined;
  }

  /** The target at `path` as served at tick k, if its hash matches: artifacts are hidden until release. */
  targetAt(vendor: string, path: string, sha256: string, k: number): ServedTarget | undefined {
    const versions = this.state.vendors.get(vendor);
    const active = versions && activeAt(versions, k);
    if (!active) return undefined;
    const info = this.targetsOf(active).get(path);
    return info && info.hashes.sha256 === sha256 ? { vendor, path, info } : undefined;
  }

  targetsOf(version: StoredVersion): Map<string, TargetInfo> {
    let map = this.targetsByVersion.get(version);
    if (!map) {
      // Asked for versions in effect only, whose bytes are held (src/release/store.ts).
      if (!version.bytes)
        throw new FairpatchError('INTERNAL', `version ${version.version} is no longer held`);
      const doc = JSON.parse(version.bytes.toString('utf8')) as { signed: TargetsSigned };
      map = new Map(Object.entries(doc.signed.targets));
      this.targetsByVersion.set(version, map);
    }
    return map;
  }
}

/** The highest version activated by tick k (TUF clients see versions only grow). */
export function activeAt(versions: readonly StoredVersion[], k: number): StoredVersion | undefined {
  let best: StoredVersion | undefined;
  for (const v of versions)
    if (v.activationTick <= k && (!best || v.version > best.version)) best = v;
  return best;
}

/** What a snapshot says of a version: the same as `metaFile` of its bytes, without holding them. */
function metaFileOf(v: StoredVersion): MetaFile {
  return { version: v.version, length: v.length, hashes: { sha256: v.sha256 } };
}
