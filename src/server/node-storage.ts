import { existsSync, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Clock, systemClock } from '../common/clock.js';
import { privateDir } from '../common/files.js';
import { databaseTime } from '../db/clock.js';
import { connect, isPostgres } from '../db/connect.js';
import { DatabaseMonitor } from '../db/monitor.js';
import type { Db } from '../db/schema.js';
import { FairpatchError } from '../errors.js';
import { listRootFiles } from '../keys/key-files.js';
import { EmbargoStore } from '../release/embargo-store.js';
import { RepositoryStore } from '../release/store.js';
import { ClockOffset, correctedClock, sampleOffset } from '../serving/clock-offset.js';
import type { RepoConfig } from '../serving/state.js';
import type { BlobStore } from '../storage/blobs.js';
import { DatabaseBlobStore } from '../storage/database-blobs.js';
import { FileBlobStore } from '../storage/file-blobs.js';
import { importLocalBlobs } from '../storage/import-blobs.js';
import { DAY_MS } from '../tuf/time.js';
import type { NodeConfig } from './config.js';
import type { OpsLog } from './ops-log.js';

/** A node's first step: its database (and the clock it keeps with it) and the repository's tables. */
export interface NodeStorage {
  db: Db;
  /** Whether the database answers, as the refresh loop last found it. */
  monitor: DatabaseMonitor;
  /** The tick clock: held back to the database's when `measureClock` is set. */
  clock: Clock;
  offset: ClockOffset;
  /** Reads the database's clock again (a serving node over PostgreSQL); undefined otherwise. */
  measureClock: (() => Promise<void>) | undefined;
  store: RepositoryStore;
  embargoStore: EmbargoStore;
  /** The repository's fixed settings, as stored when it was created. */
  config: RepoConfig;
  /** The root files beside the keys, oldest first (newer ones than the database's are imported). */
  rootFiles: Array<{ version: number; path: string }>;
}

export function defaultRepoConfig(now: number, overrides: Partial<RepoConfig> = {}): RepoConfig {
  const tickMs = overrides.tickMs ?? 1000;
  return {
    epochMs: Math.floor(now / tickMs) * tickMs,
    tickMs,
    freshnessMs: 5 * 60_000,
    snapshotPeriodMs: DAY_MS,
    snapshotLifetimeMs: 7 * DAY_MS,
    ...overrides,
  };
}

/**
 * Connects the database, settles the clock against it, and creates the repository on first start
 * (from the keys directory's 1.root.json and 1.targets.json). On failure after connecting, the
 * database is let go: an open PostgreSQL pool would keep the process from exiting.
 */
export async function openStorage(
  settings: NodeConfig,
  options: { clock?: Clock; sync: boolean; opsLog: OpsLog; repoDefaults?: Partial<RepoConfig> },
): Promise<NodeStorage> {
  const { dataDir, keysDir } = settings;
  const { opsLog, sync } = options;
  privateDir(dataDir);
  const monitor = new DatabaseMonitor(
    () => Date.now(),
    (line, recovered) => opsLog.log(recovered ? 'info' : 'error', 'database', line),
  );
  const db = await connect({
    url: settings.databaseUrl ?? join(dataDir, 'fairpatch.sqlite'),
    connectTimeoutMs: settings.databaseConnectTimeoutMs,
    statementTimeoutMs: settings.databaseStatementTimeoutMs,
    poolSize: settings.databasePoolSize,
    onConnectionError: (error) => monitor.connectionLost(error),
  });
  try {
    // A serving node over PostgreSQL keeps time with the database: its clock is read against the
    // database's, and moved back if it runs ahead, so no node shows a release before its time.
    // Readings are kept for a minute (a burst every 5 s): the tightest round trip of the minute bounds
    // the offset best, and with it how far the tick clock must be held back (see ClockOffset).
    const offset = new ClockOffset(36);
    // The system clock is read at high resolution for the offset: whole ms would widen every round trip.
    const readingClock = options.clock ?? preciseClock;
    const measureClock =
      sync && isPostgres(db) ? () => measureOffset(db, readingClock, offset) : undefined;
    await measureClock?.();
    const baseClock = options.clock ?? systemClock;
    const clock = measureClock ? correctedClock(baseClock, offset) : baseClock;
    const store = new RepositoryStore(db);
    const rootFiles = listRootFiles(keysDir);
    const first = rootFiles[0];
    if (first?.version !== 1)
      throw new FairpatchError('NOT_FOUND', `no 1.root.json in ${keysDir}; run fairpatch keygen`);
    const targets1 = join(keysDir, '1.targets.json');
    if (!existsSync(targets1))
      throw new FairpatchError(
        'NOT_FOUND',
        `no 1.targets.json in ${keysDir}; run fairpatch keygen`,
      );
    const config = await store.initialize(
      defaultRepoConfig(clock.now(), options.repoDefaults),
      readFileSync(first.path),
      readFileSync(targets1),
      clock.now(),
    );
    const embargoStore = new EmbargoStore(db);
    return { db, monitor, clock, offset, measureClock, store, embargoStore, config, rootFiles };
  } catch (error) {
    await db.destroy();
    throw error;
  }
}

/**
 * Where artifacts' bytes live, leftovers of interrupted uploads swept. With PostgreSQL every node
 * serves every artifact, so the bytes live there (files of an earlier SQLite node are copied in);
 * SQLite is one node's, files suffice.
 */
export async function openBlobs(storage: NodeStorage, settings: NodeConfig): Promise<BlobStore> {
  const { db } = storage;
  const filesDir = join(settings.dataDir, 'blobs');
  const blobs: BlobStore = isPostgres(db)
    ? new DatabaseBlobStore(db, settings.blobChunkBytes)
    : new FileBlobStore(filesDir);
  const swept = await blobs.sweep();
  if (swept > 0)
    console.error(`removed ${swept} leftover(s) of interrupted uploads from ${blobs.location}`);
  const imported = isPostgres(db) ? await importLocalBlobs(db, blobs, filesDir) : 0;
  if (imported > 0)
    console.error(
      `copied ${imported} artifact(s) from ${filesDir} into the database, for every node to serve`,
    );
  return blobs;
}

/** What `/healthz` checks the node can write to: its blob store, and SQLite's directory. */
export function storageChecks(
  storage: NodeStorage,
  blobs: BlobStore,
  dataDir: string,
): Array<() => Promise<void>> {
  return [
    () => blobs.checkWritable(),
    ...(isPostgres(storage.db) ? [] : [() => checkDirectoryWritable(dataDir)]),
  ];
}

/** The SQLite database's directory must take writes (a journal, the WAL); the error names it. */
async function checkDirectoryWritable(dir: string): Promise<void> {
  const probe = join(dir, `.probe-${process.pid}`);
  try {
    await writeFile(probe, '');
    await rm(probe, { force: true });
  } catch (error) {
    throw new FairpatchError(
      'STORAGE_UNAVAILABLE',
      `data directory ${dir} is not writable: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

const preciseClock: Clock = { now: () => performance.timeOrigin + performance.now() };

/**
 * A burst of readings of the database's clock, each between two of ours, back to back on one
 * connection: the first may wait for a connection or a busy server, the next ones rarely do.
 */
async function measureOffset(db: Db, clock: Clock, offset: ClockOffset): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const sentAt = clock.now();
    const reference = await databaseTime(db);
    if (reference !== undefined) offset.add(sampleOffset(sentAt, reference, clock.now()));
  }
}
