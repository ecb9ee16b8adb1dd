import type { TickConfig } from '../common/tick.js';

/** Fixed at repository creation and identical on every node (stored in repo_config). */
export interface RepoConfig extends TickConfig {
  /** timestamp.json expires this long after its tick starts (the freshness window). */
  freshnessMs: number;
  /** Snapshot is re-signed at least this often, even with no release (on period boundaries). */
  snapshotPeriodMs: number;
  /** Snapshot expires this long after the tick it was first served at. */
  snapshotLifetimeMs: number;
}

/** One stored version of a metadata file, with the tick from which it is served. */
export interface StoredVersion {
  version: number;
  /**
   * The signed bytes, held while the version is in effect or pending. Once a later version is in
   * effect it can never be served as current again, and they are dropped (src/release/store.ts): read
   * back when asked for (an old version by number, a leaf logged again at start-up), so a node's
   * memory does not grow with a vendor's old versions (metadata is cumulative: each holds them all).
   */
  bytes?: Buffer;
  /** sha256 (hex) and length of the bytes: what snapshots and commitments name. */
  sha256: string;
  length: number;
  effectiveAt: number;
  activationTick: number;
  /** For vendor metadata: what the version does (release, halt, refresh). */
  kind?: string;
}

/** The committed state every node loads from the database; immutable once built. */
export interface CommittedState {
  config: RepoConfig;
  /** root versions 1..N, bytes as signed offline. */
  roots: Buffer[];
  /** The tick from which each root (same index) is in effect: strictly increasing. */
  rootTicks: number[];
  topTargets: StoredVersion[];
  vendors: ReadonlyMap<string, StoredVersion[]>;
}
