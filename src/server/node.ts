import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Hono } from 'hono';
import { privateDir } from '../common/files.js';
import { connect, isPostgres } from '../db/connect.js';
import { DatabaseMonitor } from '../db/monitor.js';
import type { Db } from '../db/schema.js';
import { type AppDeps, createApp } from '../http/app.js';
import { listRootFiles } from '../keys/key-files.js';
import { readLogKey, readOnlineKeys } from '../keys/keygen.js';
import { hostname } from 'node:os';
import { signCheckpoint } from '../log/checkpoint.js';
import { Sequencer } from '../log/sequencer.js';
import { Cosigning } from './cosigning.js';
import { LogStore } from '../log/store.js';
import { Evidence } from '../release/evidence.js';
import { EmbargoStore } from '../release/embargo-store.js';
import { ReceiptIntake } from '../receipts/intake.js';
import { type FanoutRecord, Notifier, type NotifierLimits } from '../release/notifier.js';
import { announceTick } from '../release/push.js';
import type { EventRouteOptions } from '../http/routes/events.js';
import type { RateLimits } from '../http/rate-limit.js';
import type { TrustProxy } from '../http/client-address.js';
import { DeliveryCounter } from '../release/accounting.js';
import type { BlobStore } from '../release/blobs.js';
import { DatabaseBlobStore } from '../release/database-blobs.js';
import { FileBlobStore } from '../release/file-blobs.js';
import { type Clock, systemClock } from '../common/clock.js';
import { Repository } from '../release/repository.js';
import type { RepoConfig } from '../release/state.js';
import { RepositoryStore } from '../release/store.js';
import { FairpatchError } from '../errors.js';
import { describeDatabaseError } from '../db/errors.js';
import type { RootSigned } from '../tuf/metadata.js';
import { DAY_MS } from '../tuf/time.js';
import { importLocalBlobs } from './import-blobs.js';
import { databaseTime } from '../db/clock.js';
import { ClockOffset, correctedClock, sampleOffset } from '../release/clock-offset.js';
import { startSync } from './sync.js';
import { NodeMetrics } from '../metrics/node-metrics.js';

export interface NodeOptions {
  dataDir: string;
  keysDir: string;
  /** `postgres://…`, or a SQLite file; default `<dataDir>/fairpatch.sqlite`. */
  databaseUrl?: string;
  clock?: Clock;
  minLeadMs?: number;
  /** How far ahead a release may be scheduled; default 90 days. */
  maxHorizonMs?: number;
  /** Only used when the repository is created. */
  repoDefaults?: Partial<RepoConfig>;
  /** Run the refresh and pre-render loops (a serving node); tests drive time by hand instead. */
  sync?: boolean;
  operatorToken?: string;
  /** Names this node in its delivery roll-ups; default host:pid. */
  nodeName?: string;
  /** How often poll counts are rolled up into the log; default one minute. */
  rollupMs?: number;
  notifierLimits?: Partial<NotifierLimits>;
  eventOptions?: Partial<EventRouteOptions>;
  rateLimits?: Partial<RateLimits>;
  /** Chunk size of artifacts stored in PostgreSQL; default 1 MiB. */
  blobChunkBytes?: number;
  /** A serving node whose clock differs from the database's by more than this answers 503 CLOCK_SKEW; default 100 ms. */
  maxClockSkewMs?: number;
  /** Distinct groups counted by name in the metrics (the rest under `_overflow`); default 1000. */
  metricsMaxGroups?: number;
  /** Which proxies' X-Forwarded-For names the client; default none (the socket peer is the client). */
  trustProxy?: TrustProxy;
  /** Witnesses asked to cosign each new checkpoint (C2SP tlog-witness); cosigned checkpoints are served. */
  witnesses?: string[];
}

export interface FairpatchNode {
  app: Hono;
  repo: Repository;
  store: RepositoryStore;
  blobs: BlobStore;
  counter: DeliveryCounter;
  db: Db;
  log: LogStore;
  sequencer: Sequencer;
  evidence: Evidence;
  /** Whether the database answers, as the refresh loop last found it. */
  monitor: DatabaseMonitor;
  /** The C2SP verifier key auditors pin for this log. */
  logVerifierKey: string;
  /** What the app was built from: tests build variants of it (an adversarial server, say). */
  appDeps: AppDeps;
  notifier: Notifier;
  /** Announces tick k on the event streams if something activates then (the tick timer does this when syncing). */
  announce(k?: number): FanoutRecord | undefined;
  close(): Promise<void>;
}

export const DEFAULT_MIN_LEAD_MS = 30_000;
export const DEFAULT_MAX_CLOCK_SKEW_MS = 100;

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

/** Wires one node: database, keys, repository view, HTTP app. Nothing listens yet. */
export async function createNode(options: NodeOptions): Promise<FairpatchNode> {
  const baseClock = options.clock ?? systemClock;
  const minLeadMs = options.minLeadMs ?? DEFAULT_MIN_LEAD_MS;
  privateDir(options.dataDir);
  const monitor = new DatabaseMonitor(() => Date.now());
  const databaseUrl = options.databaseUrl ?? join(options.dataDir, 'fairpatch.sqlite');
  const db = await connect({
    url: databaseUrl,
    onConnectionError: (error) => monitor.connectionLost(error),
  });
  // A serving node over PostgreSQL keeps time with the database: its clock is read against the
  // database's, and moved back if it runs ahead, so no node shows a release before its time.
  // Readings are kept for a minute (a burst every 5 s): the tightest round trip of the minute bounds
  // the offset best, and with it how far the tick clock must be held back (see ClockOffset).
  const offset = new ClockOffset(36);
  // The system clock is read at high resolution for the offset: whole ms would widen every round trip.
  const readingClock = options.clock ?? preciseClock;
  const measureClock =
    options.sync && isPostgres(db) ? () => measureOffset(db, readingClock, offset) : undefined;
  await measureClock?.();
  const clock = measureClock ? correctedClock(baseClock, offset) : baseClock;
  const maxClockSkewMs = options.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
  const store = new RepositoryStore(db);
  const rootFiles = listRootFiles(options.keysDir);
  const first = rootFiles[0];
  if (first?.version !== 1)
    throw new FairpatchError(
      'NOT_FOUND',
      `no 1.root.json in ${options.keysDir}; run fairpatch keygen`,
    );
  const targets1 = join(options.keysDir, '1.targets.json');
  if (!existsSync(targets1))
    throw new FairpatchError(
      'NOT_FOUND',
      `no 1.targets.json in ${options.keysDir}; run fairpatch keygen`,
    );
  const config = await store.initialize(
    defaultRepoConfig(clock.now(), options.repoDefaults),
    readFileSync(first.path),
    readFileSync(targets1),
    clock.now(),
  );

  const signersFor = (root: RootSigned) => readOnlineKeys(options.keysDir, root);
  const metrics = new NodeMetrics(
    options.metricsMaxGroups ? { maxGroups: options.metricsMaxGroups } : {},
  );
  const repo = await Repository.open({
    store,
    config,
    clock,
    minLeadMs,
    signersFor,
    onRender: (s) => metrics.rendered(s),
    ...(options.maxHorizonMs ? { maxHorizonMs: options.maxHorizonMs } : {}),
  });
  // Roots newer than the database's (written by `fairpatch root rotate`) are checked and imported.
  const known = repo.latestRoot().version;
  for (const file of rootFiles.filter((f) => f.version > known)) {
    // Nodes started together import the same file: one lands it, the others load it.
    await repo.addRoot(readFileSync(file.path)).catch(async (error: unknown) => {
      if (!(error instanceof FairpatchError && error.code === 'VERSION_CONFLICT')) throw error;
      await repo.refresh();
    });
  }

  if (options.operatorToken) await store.importToken(options.operatorToken, null, clock.now());
  // With PostgreSQL every node serves every artifact, so the bytes live there; SQLite is one node's, files suffice.
  const blobs: BlobStore = isPostgres(db)
    ? new DatabaseBlobStore(db, options.blobChunkBytes)
    : new FileBlobStore(join(options.dataDir, 'blobs'));
  const swept = await blobs.sweep();
  if (swept > 0)
    console.error(`removed ${swept} leftover(s) of interrupted uploads from ${blobs.location}`);
  const imported = isPostgres(db)
    ? await importLocalBlobs(db, blobs, join(options.dataDir, 'blobs'))
    : 0;
  if (imported > 0)
    console.error(
      `copied ${imported} artifact(s) from ${join(options.dataDir, 'blobs')} into the database, for every node to serve`,
    );
  const counter = new DeliveryCounter();

  const notifier = new Notifier(
    () => clock.now(),
    options.notifierLimits,
    (record) => metrics.fannedOut(record.durationMs / 1000),
  );
  const logKey = readLogKey(options.keysDir);
  // During a log key rotation both keys co-sign, so auditors pinned to either verify every checkpoint.
  const nextLogKey = existsSync(join(options.keysDir, 'log-next.key'))
    ? readLogKey(options.keysDir, 'log-next')
    : undefined;
  const logSecrets = [logKey.key.secretKey, ...(nextLogKey ? [nextLogKey.key.secretKey] : [])];
  const log = new LogStore(db, (size, root) =>
    signCheckpoint({ origin: logKey.name, size, rootHash: root }, logKey.name, logSecrets),
  );
  const cosigning = options.witnesses?.length ? new Cosigning(log, options.witnesses) : undefined;
  const sequencer = new Sequencer(
    log,
    () => clock.now(),
    undefined,
    (entries, seconds) => {
      metrics.appended(entries, seconds);
      void cosigning?.kick();
    },
  );
  const evidence = new Evidence(
    repo,
    sequencer,
    counter,
    options.nodeName ?? `${hostname()}:${process.pid}`,
  );
  repo.attach(evidence);
  await evidence.created();
  if (nextLogKey) await evidence.logKeyRotated(nextLogKey.vkey);
  await logStagedVersions(repo, evidence);
  await evidence.embargoCommitments();
  await evidence.activations();

  const stop = options.sync
    ? startSync(repo, {
        refreshMs: 1000,
        onTick: () => evidence.activations(),
        onRollup: () => evidence.rollup(),
        rollupMs: options.rollupMs ?? 60_000,
        onTickStart: (k) => void announceTick(repo, notifier, counter, k),
        onHeartbeat: () => notifier.heartbeat(repo.currentTick()),
        monitor,
      })
    : () => {};
  const clockTimer = measureClock
    ? setInterval(() => void measureClock().catch(() => {}), 5000)
    : undefined;
  clockTimer?.unref();
  // A release is committed at least minLead before it is due; a node whose state is younger than
  // that holds every due release (a small margin for timers). Refreshes run every second.
  const maxStateAge = Math.max(1500, minLeadMs - 250);
  const intake = new ReceiptIntake(
    db,
    sequencer,
    () => repo.view.timestampKeys(),
    () => clock.now(),
  );
  const declareGroups = async (groups: string[]): Promise<number> => {
    await store.saveDeclaredGroups(groups);
    counter.declare(groups);
    return evidence.groupsDeclared(groups);
  };
  const declared = await store.declaredGroups();
  if (declared) counter.declare(declared);
  const storageChecks = [
    () => blobs.checkWritable(),
    ...(isPostgres(db) ? [] : [() => checkDirectoryWritable(options.dataDir)]),
  ];
  const appDeps: AppDeps = {
    repo,
    blobs,
    counter,
    log,
    logVerifierKey: logKey.vkey,
    intake,
    notifier,
    metrics,
    declareGroups,
    monitor,
    storageChecks,
    ...(measureClock ? { clock: { offset, maxSkewMs: maxClockSkewMs } } : {}),
    ...(options.rateLimits ? { rateLimits: options.rateLimits } : {}),
    ...(options.trustProxy ? { trustProxy: options.trustProxy } : {}),
    ...(options.eventOptions ? { eventOptions: options.eventOptions } : {}),
    ...(options.sync ? { maxStateAgeMs: () => maxStateAge } : {}),
  };
  const app = createApp(appDeps);
  void cosigning?.kick();
  return {
    app,
    repo,
    store,
    blobs,
    counter,
    db,
    log,
    sequencer,
    evidence,
    monitor,
    logVerifierKey: logKey.vkey,
    appDeps,
    notifier,
    announce: (k = repo.currentTick()) => announceTick(repo, notifier, counter, k),
    async close() {
      stop();
      if (clockTimer) clearInterval(clockTimer);
      notifier.closeAll();
      // A serving node's last roll-up: the polls counted since the previous one go into the log too.
      if (options.sync)
        await evidence
          .rollup()
          .catch((error: unknown) =>
            console.error(`final delivery roll-up not logged: ${describeDatabaseError(error)}`),
          );
      await sequencer.idle();
      await cosigning?.kick();
      await db.destroy();
    },
  };
}

/** Start-up sweep: a schedule staged just before a crash is logged now (appends are idempotent). */
async function logStagedVersions(repo: Repository, evidence: Evidence): Promise<void> {
  // Offered all at once, so the sequencer checks and appends them in one batch, not one per version.
  // A version an embargo moved is committed again for its new tick: a crash between the move and that
  // leaf must not leave the log promising the old tick (appends are idempotent, a repeat costs nothing).
  const moved = await new EmbargoStore(repo.store.db).movedTimes();
  const offers = [...repo.view.state.vendors].flatMap(([vendor, versions]) =>
    versions
      .filter((v) => v.kind === 'release' || v.kind === 'halt')
      .flatMap((v) => [
        evidence.staged(vendor, v, v.kind as string),
        ...(moved.has(v.effectiveAt) ? [evidence.staged(vendor, v, v.kind as string, true)] : []),
      ]),
  );
  await Promise.all(offers);
}

/** The operator token of a dev repository: created once, kept in the data dir with mode 0600. */
export async function devOperatorToken(
  store: RepositoryStore,
  dataDir: string,
  now: number,
): Promise<string> {
  const file = join(dataDir, 'operator.token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = await store.issueToken(null, now);
  writeFileSync(file, token + '\n', { mode: 0o600 });
  return token;
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
