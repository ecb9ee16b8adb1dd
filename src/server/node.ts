import type { OwnersByGroup } from '../common/enrollment.js';
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
import { ReceiptCheckers } from '../receipts/checkers.js';
import { BatchLedger, trustedTimestamps } from '../receipts/batch-ledger.js';
import { ReceiptIntake } from '../receipts/intake.js';
import { VouchedAgents } from '../receipts/enrollments.js';
import { IntakeBudget, MinuteBudget, type Vouched } from '../receipts/budget.js';
import { type FanoutRecord, Notifier } from '../serving/notifier.js';
import { announceTick } from '../serving/push.js';
import type { RateLimits } from '../http/rate-limit.js';
import { type TrustProxy, parseTrustProxy } from '../http/client-address.js';
import { type NodeConfig, type NodeConfigInput, parseNodeConfig } from './config.js';
import { DeliveryCounter } from '../serving/accounting.js';
import type { BlobStore } from '../storage/blobs.js';
import { DatabaseBlobStore } from '../storage/database-blobs.js';
import { FileBlobStore } from '../storage/file-blobs.js';
import { type Clock, systemClock } from '../common/clock.js';
import { Repository } from '../release/repository.js';
import type { RepoConfig } from '../serving/state.js';
import { RepositoryStore } from '../release/store.js';
import { FairpatchError } from '../errors.js';
import { describeDatabaseError } from '../db/errors.js';
import type { RootSigned } from '../tuf/metadata.js';
import { DAY_MS } from '../tuf/time.js';
import { importLocalBlobs } from '../storage/import-blobs.js';
import { databaseTime } from '../db/clock.js';
import { ClockOffset, correctedClock, sampleOffset } from '../serving/clock-offset.js';
import { startSync } from './sync.js';
import { NodeMetrics } from '../metrics/node-metrics.js';
import { drainRefusals } from '../http/errors.js';
import { type OpsLog, createOpsLog, silentLog } from './ops-log.js';
import { leafEvent } from './leaf-events.js';

/**
 * What a node is opened with: its settings (src/server/config.ts; any subset, the rest default) and
 * what only code can give.
 */
export interface NodeOptions extends NodeConfigInput {
  clock?: Clock;
  /** Only used when the repository is created. */
  repoDefaults?: Partial<RepoConfig>;
  /** Run the refresh and pre-render loops (a serving node); tests drive time by hand instead. */
  sync?: boolean;
  /** Which agent keys an owner vouches for, per group (enrollment); default: none. */
  vouched?: Vouched;
  /** Where operations log lines go; default: a serving node (`sync`) writes them to stdout, else none. */
  opsLog?: OpsLog;
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
  announce(k?: number): Promise<FanoutRecord | undefined>;
  close(): Promise<void>;
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

/** How often a serving node asks its witnesses again for the latest checkpoint they have not cosigned. */
const COSIGN_RETRY_MS = 5000;

/** Wires one node: database, keys, repository view, HTTP app. Nothing listens yet. */
export async function createNode(options: NodeOptions): Promise<FairpatchNode> {
  const {
    clock: givenClock,
    repoDefaults,
    sync,
    vouched: givenVouched,
    opsLog: givenLog,
    ...given
  } = options;
  // Settings are validated and completed here, whoever opens the node (serve, tests, benchmarks).
  const settings = parseNodeConfig(given);
  const opsLog =
    givenLog ??
    (sync ? createOpsLog({ format: settings.logFormat, level: settings.logLevel }) : silentLog);
  const baseClock = givenClock ?? systemClock;
  const { minLeadMs, dataDir, keysDir } = settings;
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
  const clock = measureClock ? correctedClock(baseClock, offset) : baseClock;
  const store = new RepositoryStore(db);
  const rootFiles = listRootFiles(keysDir);
  const first = rootFiles[0];
  if (first?.version !== 1)
    throw new FairpatchError('NOT_FOUND', `no 1.root.json in ${keysDir}; run fairpatch keygen`);
  const targets1 = join(keysDir, '1.targets.json');
  if (!existsSync(targets1))
    throw new FairpatchError('NOT_FOUND', `no 1.targets.json in ${keysDir}; run fairpatch keygen`);
  const config = await store.initialize(
    defaultRepoConfig(clock.now(), repoDefaults),
    readFileSync(first.path),
    readFileSync(targets1),
    clock.now(),
  );

  const signersFor = (root: RootSigned) => readOnlineKeys(keysDir, root);
  const metrics = new NodeMetrics({ maxGroups: settings.metricsMaxGroups });
  const repo = await Repository.open({
    store,
    config,
    clock,
    minLeadMs,
    maxHorizonMs: settings.maxHorizonMs,
    signersFor,
    onRender: (s) => metrics.rendered(s),
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
  // A node that cannot sign the tick in effect would serve nothing but 503s: it stops at once and
  // says which key file it lacks and where to copy it from (KEY_UNAVAILABLE: exit 69). The database
  // is let go first: an open PostgreSQL pool would keep the process from exiting.
  try {
    repo.view.timestampAt(repo.currentTick());
  } catch (error) {
    await db.destroy();
    throw error;
  }
  for (const note of repo.keyNotes()) console.error(note);

  if (settings.operatorToken) await store.importToken(settings.operatorToken, null, clock.now());
  // With PostgreSQL every node serves every artifact, so the bytes live there; SQLite is one node's, files suffice.
  const blobs: BlobStore = isPostgres(db)
    ? new DatabaseBlobStore(db, settings.blobChunkBytes)
    : new FileBlobStore(join(dataDir, 'blobs'));
  const swept = await blobs.sweep();
  if (swept > 0)
    console.error(`removed ${swept} leftover(s) of interrupted uploads from ${blobs.location}`);
  const imported = isPostgres(db) ? await importLocalBlobs(db, blobs, join(dataDir, 'blobs')) : 0;
  if (imported > 0)
    console.error(
      `copied ${imported} artifact(s) from ${join(dataDir, 'blobs')} into the database, for every node to serve`,
    );
  const counter = new DeliveryCounter();

  const notifier = new Notifier(
    () => clock.now(),
    {
      maxConnections: settings.maxStreams,
      maxPerAddress: settings.maxStreamsPerAddress,
      maxQueuedBytes: settings.maxStreamQueuedBytes,
    },
    (record) => metrics.fannedOut(record.durationMs / 1000),
  );
  const logKey = readLogKey(keysDir);
  // During a log key rotation both keys co-sign, so auditors pinned to either verify every checkpoint.
  const nextLogKey = existsSync(join(keysDir, 'log-next.key'))
    ? readLogKey(keysDir, 'log-next')
    : undefined;
  const logSecrets = [logKey.key.secretKey, ...(nextLogKey ? [nextLogKey.key.secretKey] : [])];
  const log = new LogStore(db, (size, root) =>
    signCheckpoint({ origin: logKey.name, size, rootHash: root }, logKey.name, logSecrets),
  );
  const cosigning = settings.witnesses.length
    ? new Cosigning(log, settings.witnesses, (line) => opsLog.log('warn', 'witness', line))
    : undefined;
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
    // A host name may be longer than the roll-up leaf takes (253 characters): its end is kept.
    settings.nodeName ?? `${hostname()}:${process.pid}`.slice(-128),
  );
  evidence.onLogged = (leaf, index) => {
    const e = leafEvent(leaf, index);
    if (e) opsLog.log(e.level, e.event, e.message, e.fields);
  };
  repo.attach(evidence);
  await evidence.created();
  if (nextLogKey) await evidence.logKeyRotated(nextLogKey.vkey);
  await logStagedVersions(repo, evidence);
  await evidence.changeCommitments();
  await evidence.embargoCommitments();
  await evidence.activations();

  const stop = sync
    ? startSync(repo, {
        refreshMs: 1000,
        onTick: () => evidence.activations(),
        onRollup: () => evidence.rollup(),
        rollupMs: settings.rollupMs,
        onTickStart: (k) =>
          void announceTick(repo, notifier, counter, k).catch((error: unknown) =>
            console.error(`push for tick ${k} not sent: ${(error as Error).message}`),
          ),
        heartbeatMs: settings.streamHeartbeatMs,
        onHeartbeat: () => notifier.heartbeat(repo.currentTick()),
        monitor,
      })
    : () => {};
  // Refusals by code, once per roll-up interval when there were any: a spike an operator should see.
  const refusalTimer = sync
    ? setInterval(() => logRefusals(opsLog, settings.rollupMs), settings.rollupMs)
    : undefined;
  refusalTimer?.unref();
  // A witness that refused (away, or not yet following a log-key rotation) is asked again without
  // waiting for the next checkpoint: a quiet log may not append one for a long time.
  const cosignTimer =
    sync && cosigning ? setInterval(() => void cosigning.kick(), COSIGN_RETRY_MS) : undefined;
  cosignTimer?.unref();
  const clockTimer = measureClock
    ? setInterval(() => void measureClock().catch(() => {}), 5000)
    : undefined;
  clockTimer?.unref();
  // A release is committed at least minLead before it is due; a node whose state is younger than
  // that holds every due release (a small margin for timers). Refreshes run every second.
  const maxStateAge = Math.max(1500, minLeadMs - 250);
  const checkers = new ReceiptCheckers();
  // Receipts and install reports draw on one byte budget: what clients may add per minute.
  const clientBytes = new MinuteBudget(
    settings.clientBytesPerMinute,
    () => clock.now(),
    'bytes of receipts and install reports',
  );
  const intakeLimits = {
    perKeyPerMinute: settings.receiptsPerKeyPerMinute,
    maxKeys: settings.receiptMaxKeys,
    unvouchedPerMinute: settings.unvouchedReceiptsPerMinute,
  };
  // Which keys an owner the operator declared has certified: they draw on their own budgets.
  const vouchedAgents = new VouchedAgents(
    () => store.declaredOwners(),
    () => clock.now(),
  );
  const vouched: Vouched = givenVouched ?? ((agent, group) => vouchedAgents.vouched(agent, group));
  const declaredSet = async (): Promise<ReadonlySet<string> | undefined> => {
    const groups = await store.declaredGroups();
    return groups && new Set(groups);
  };
  const intake = new ReceiptIntake({
    checkers,
    trust: trustedTimestamps(() => repo.view.timestampKeys()),
    budget: new IntakeBudget(intakeLimits, () => clock.now(), vouched, clientBytes),
    ledger: new BatchLedger(db, sequencer),
    enrollments: vouchedAgents,
    now: () => clock.now(),
    declaredGroups: declaredSet,
  });
  const reportBudget = new IntakeBudget(
    intakeLimits,
    () => clock.now(),
    vouched,
    clientBytes,
    'install reports',
  );
  const declareGroups = async (groups: string[], owners: OwnersByGroup = {}): Promise<number> => {
    await store.saveDeclaredGroups(groups, owners);
    counter.declare(groups);
    return evidence.groupsDeclared(groups, owners);
  };
  const declared = await store.declaredGroups();
  if (declared) counter.declare(declared);
  const storageChecks = [
    () => blobs.checkWritable(),
    ...(isPostgres(db) ? [] : [() => checkDirectoryWritable(dataDir)]),
  ];
  const appDeps: AppDeps = {
    repo,
    blobs,
    counter,
    log,
    logVerifierKey: logKey.vkey,
    logWitnessed: settings.witnesses.length > 0,
    intake,
    reportBudget,
    dashboardMaxLogBytes: settings.dashboardMaxLogBytes,
    notifier,
    metrics,
    declareGroups,
    monitor,
    storageChecks,
    clock: measureClock ? { offset, maxSkewMs: settings.maxClockSkewMs } : undefined,
    limits: { maxJsonBytes: settings.maxJsonBytes, maxArtifactBytes: settings.maxArtifactBytes },
    rateLimits: rateLimitsOf(settings),
    trustProxy: trustProxyOf(settings),
    eventOptions: { idleMs: settings.streamIdleMs, retryMs: settings.streamRetryMs },
    maxStateAgeMs: sync ? () => maxStateAge : undefined,
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
      if (refusalTimer) clearInterval(refusalTimer);
      if (cosignTimer) clearInterval(cosignTimer);
      notifier.closeAll();
      // A serving node's last roll-up: the polls counted since the previous one go into the log too.
      if (sync)
        await evidence
          .rollup()
          .catch((error: unknown) =>
            console.error(`final delivery roll-up not logged: ${describeDatabaseError(error)}`),
          );
      await sequencer.idle();
      await cosigning?.kick();
      await checkers.close();
      await db.destroy();
    },
  };
}

/** One line: the error answers of the last interval by code, most frequent first; none: no line. */
export function logRefusals(opsLog: OpsLog, intervalMs: number): void {
  const counts = [...drainRefusals()].sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  if (counts.length === 0) return;
  const total = counts.reduce((sum, [, n]) => sum + n, 0);
  opsLog.log(
    'info',
    'refusals',
    `${total} refused in the last ${Math.round(intervalMs / 1000)}s: ${counts.map(([code, n]) => `${code} ${n}`).join(', ')}`,
    { total, ...Object.fromEntries(counts) },
  );
}

function rateLimitsOf(config: NodeConfig): RateLimits {
  const maxBuckets = config.rateLimitMaxBuckets;
  return {
    publisherPerToken: {
      perSecond: config.publisherPerTokenPerSecond,
      burst: config.publisherPerTokenBurst,
      maxBuckets,
    },
    publisherPerAddress: {
      perSecond: config.publisherPerAddressPerSecond,
      burst: config.publisherPerAddressBurst,
      maxBuckets,
    },
    agentPerAddress: {
      perSecond: config.agentPerAddressPerSecond,
      burst: config.agentPerAddressBurst,
      maxBuckets,
    },
  };
}

/** The validated --trust-proxy text, parsed (the config keeps it as text, to print and compare). */
export function trustProxyOf(config: Pick<NodeConfig, 'trustProxy'>): TrustProxy {
  return parseTrustProxy(config.trustProxy) as TrustProxy;
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
