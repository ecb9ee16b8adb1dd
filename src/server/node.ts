import type { Hono } from 'hono';
import type { OwnersByGroup } from '../common/enrollment.js';
import type { Clock } from '../common/clock.js';
import { once } from '../common/once.js';
import type { Db } from '../db/schema.js';
import type { DatabaseMonitor } from '../db/monitor.js';
import { describeDatabaseError } from '../db/errors.js';
import { type AppDeps, createApp } from '../http/app.js';
import { type TrustProxy, parseTrustProxy } from '../http/client-address.js';
import type { RateLimits } from '../http/rate-limit.js';
import type { Sequencer } from '../log/sequencer.js';
import type { LogStore } from '../log/store.js';
import { NodeMetrics } from '../metrics/node-metrics.js';
import { IntakeBudget, MinuteBudget, type Vouched } from '../receipts/budget.js';
import { BatchLedger, trustedTimestamps } from '../receipts/batch-ledger.js';
import { ReceiptCheckers } from '../receipts/checkers.js';
import { VouchedAgents } from '../receipts/enrollments.js';
import { AutoPause } from '../release/auto-pause.js';
import { ReceiptIntake } from '../receipts/intake.js';
import type { Evidence } from '../release/evidence.js';
import type { Repository } from '../release/repository.js';
import type { RepositoryStore } from '../release/store.js';
import { DeliveryCounter } from '../serving/accounting.js';
import { type FanoutRecord, Notifier } from '../serving/notifier.js';
import { announceTick } from '../serving/push.js';
import type { RepoConfig } from '../serving/state.js';
import type { BlobStore } from '../storage/blobs.js';
import { type NodeConfig, type NodeConfigInput, parseNodeConfig } from './config.js';
import { type NodeLog, openLog } from './node-log.js';
import { startLoops } from './node-loops.js';
import { catchUpLog, openRepository } from './node-repository.js';
import { type NodeStorage, openBlobs, openStorage, storageChecks } from './node-storage.js';
import { type OpsLog, createOpsLog, silentLog } from './ops-log.js';

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

/**
 * Wires one node, the one place a node is put together: storage, the log, the repository (with
 * its log from the start), blobs, services, the HTTP app, and, for a serving node, its loops.
 * Every part is built once and handed to those that use it. Nothing listens yet.
 */
export async function createNode(options: NodeOptions): Promise<FairpatchNode> {
  const { clock, repoDefaults, sync = false, vouched, opsLog: givenLog, ...given } = options;
  // Settings are validated and completed here, whoever opens the node (serve, tests, benchmarks).
  const settings = parseNodeConfig(given);
  const opsLog =
    givenLog ??
    (sync ? createOpsLog({ format: settings.logFormat, level: settings.logLevel }) : silentLog);
  const storage = await openStorage(settings, { clock, sync, opsLog, repoDefaults });
  try {
    const metrics = new NodeMetrics({ maxGroups: settings.metricsMaxGroups });
    const counter = new DeliveryCounter();
    const nodeLog = openLog(storage.db, settings, storage.clock, metrics, opsLog);
    const { repo, evidence } = await openRepository(storage, nodeLog, {
      settings,
      metrics,
      counter,
      opsLog,
    });
    const blobs = await openBlobs(storage, settings);
    await catchUpLog(repo, evidence, nodeLog);
    const parts = { settings, storage, nodeLog, repo, evidence, blobs, counter, metrics };
    const services = await buildServices(parts, vouched);
    const appDeps = appDepsOf(parts, services, sync);
    const app = createApp(appDeps);
    const stopLoops = startLoops(sync, { ...parts, notifier: services.notifier, opsLog });
    return {
      app,
      repo,
      store: storage.store,
      blobs,
      counter,
      db: storage.db,
      log: nodeLog.log,
      sequencer: nodeLog.sequencer,
      evidence,
      monitor: storage.monitor,
      logVerifierKey: nodeLog.verifierKey,
      appDeps,
      notifier: services.notifier,
      announce: (k = repo.currentTick()) => announceTick(repo, services.notifier, counter, k),
      // Idempotent: a second close (a test's fixture after the test itself) gets the first one's
      // promise instead of asking witnesses and the checkers through a pool already destroyed.
      close: once(async () => {
        stopLoops();
        services.notifier.closeAll();
        // A serving node's last roll-up: the polls counted since the previous one go into the log too.
        if (sync)
          await evidence
            .rollup()
            .catch((error: unknown) =>
              console.error(`final delivery roll-up not logged: ${describeDatabaseError(error)}`),
            );
        await nodeLog.sequencer.idle();
        await nodeLog.cosigning?.kick();
        await services.checkers.close();
        await storage.db.destroy();
      }),
    };
  } catch (error) {
    // An open PostgreSQL pool would keep the process from exiting (a node lacking a key, say).
    await storage.db.destroy();
    throw error;
  }
}

/** What a node is built from up to its services: each step's result, handed to the next. */
interface NodeParts {
  settings: NodeConfig;
  storage: NodeStorage;
  nodeLog: NodeLog;
  repo: Repository;
  evidence: Evidence;
  blobs: BlobStore;
  counter: DeliveryCounter;
  metrics: NodeMetrics;
}

interface NodeServices {
  notifier: Notifier;
  checkers: ReceiptCheckers;
  intake: AppDeps['intake'];
  reportBudget: IntakeBudget;
  autoPause: AutoPause;
  declareGroups: (groups: string[], owners?: OwnersByGroup) => Promise<number>;
}

/** The services the routes call: push, the receipt and install-report intakes, group declarations. */
async function buildServices(
  parts: NodeParts,
  givenVouched: Vouched | undefined,
): Promise<NodeServices> {
  const { settings, storage, nodeLog, repo, evidence, counter, metrics } = parts;
  const { db, store, clock } = storage;
  const { sequencer } = nodeLog;
  const notifier = new Notifier(
    () => clock.now(),
    {
      maxConnections: settings.maxStreams,
      maxPerAddress: settings.maxStreamsPerAddress,
      maxQueuedBytes: settings.maxStreamQueuedBytes,
    },
    (record) => metrics.fannedOut(record.durationMs / 1000),
  );
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
  // Vouched failure reports pause a staged release; the intake's memory says which keys are vouched.
  const autoPause = new AutoPause(repo, evidence, db, vouched);
  return { notifier, checkers, intake, reportBudget, autoPause, declareGroups };
}

/** What the HTTP app is built from: the parts, the services and the node's settings for the routes. */
function appDepsOf(parts: NodeParts, services: NodeServices, sync: boolean): AppDeps {
  const { settings, storage, nodeLog, repo, blobs, counter, metrics } = parts;
  // A release is committed at least minLead before it is due; a node whose state is younger than
  // that holds every due release (a small margin for timers). Refreshes run every second.
  const maxStateAge = Math.max(1500, settings.minLeadMs - 250);
  return {
    repo,
    blobs,
    counter,
    log: nodeLog.log,
    logVerifierKey: nodeLog.verifierKey,
    logWitnessed: settings.witnesses.length > 0,
    intake: services.intake,
    reportBudget: services.reportBudget,
    autoPause: services.autoPause,
    dashboardMaxLogBytes: settings.dashboardMaxLogBytes,
    notifier: services.notifier,
    metrics,
    declareGroups: services.declareGroups,
    monitor: storage.monitor,
    storageChecks: storageChecks(storage, blobs, settings.dataDir),
    clock: storage.measureClock
      ? { offset: storage.offset, maxSkewMs: settings.maxClockSkewMs }
      : undefined,
    limits: { maxJsonBytes: settings.maxJsonBytes, maxArtifactBytes: settings.maxArtifactBytes },
    rateLimits: rateLimitsOf(settings),
    trustProxy: trustProxyOf(settings),
    ...(settings.publicUrl ? { publicUrl: settings.publicUrl } : {}),
    eventOptions: { idleMs: settings.streamIdleMs, retryMs: settings.streamRetryMs },
    maxStateAgeMs: sync ? () => maxStateAge : undefined,
  };
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
