import { join } from 'node:path';
import { Hono } from 'hono';
import { privateDir } from '../common/files.js';
import { once } from '../common/once.js';
import { type Clock, systemClock } from '../common/clock.js';
import { type WitnessAck, witnessOrigin } from '../common/witness.js';
import { witnessCosignedDedupe, witnessCosignedLeafBytes } from '../common/witness-cosigned.js';
import { type ConnectOptions, connect } from '../db/connect.js';
import type { Db } from '../db/schema.js';
import { clientAddressOf, TRUST_NO_PROXY, type TrustProxy } from '../http/client-address.js';
import { errorResponse, notFound } from '../http/errors.js';
import { type RateLimit, rateLimit } from '../http/rate-limit.js';
import { logRoutes } from '../http/routes/log.js';
import { signCheckpoint } from '../log/checkpoint.js';
import { type Verifier, verifierKey } from '../log/note.js';
import { Sequencer } from '../log/sequencer.js';
import { LogStore } from '../log/store.js';
import type { Envelope, RootSigned } from '../tuf/metadata.js';
import { addCheckpointRoutes } from './add-checkpoint-route.js';
import { IntakeBudget, MinuteBudget, NOTHING_VOUCHED, type Vouched } from '../receipts/budget.js';
import { ReceiptCheckers } from '../receipts/checkers.js';
import { VouchedAgents } from '../receipts/enrollments.js';
import { ReceiptIntake } from '../receipts/intake.js';
import { CheckpointWitness } from './checkpoints.js';
import { LogKeyRing } from '../log/log-keys.js';
import { httpKeyRotations } from '../net/log-key-rotations.js';
import { WITNESS_LIMITS } from './config.js';
import { migrateWitness } from './schema.js';
import { WitnessLedger, followedTimestamps } from './ledger.js';
import { receiptRoutes } from '../http/routes/receipts.js';
import { receiptPageRoutes } from './receipts-route.js';
import { type RootSource, TrustedRoots } from './roots.js';
import type { WitnessKey } from './key.js';

export interface WitnessOptions {
  dataDir: string;
  /** PostgreSQL URL; a SQLite file in dataDir when absent. */
  databaseUrl?: string;
  key: WitnessKey;
  /** The repository's trusted root, given out of band. */
  root: Envelope<RootSigned>;
  /** Where successors of that root are looked up (the repository node's `/metadata/N.root.json`). */
  roots?: RootSource;
  /** Successor roots are looked up at most this often (on a document under an unknown key). */
  rootRefreshMs?: number;
  /** The repository logs whose checkpoints this witness cosigns (C2SP tlog-witness), by their pinned key. */
  logs?: Array<{ url: string; verifier: Verifier }>;
  clock?: Clock;
  /** Receipt and checkpoint submissions per client address. */
  perAddress?: RateLimit;
  /** Receipts one agent key may have logged per minute. */
  perKeyPerMinute?: number;
  /** Agent keys whose per-minute budget is remembered at once. */
  receiptMaxKeys?: number;
  /** Receipts all agent keys no owner vouches for may have logged per minute, together. */
  unvouchedReceiptsPerMinute?: number;
  /** Bytes receipts from all clients may add to the witness's log and database per minute. */
  clientBytesPerMinute?: number;
  /** Which agent keys an owner vouches for, per group (enrollment); default: none. */
  vouched?: Vouched;
  maxJsonBytes?: number;
  maxAddCheckpointBytes?: number;
  /** Over PostgreSQL: the pool's limits. */
  database?: Pick<ConnectOptions, 'connectTimeoutMs' | 'poolSize' | 'statementTimeoutMs'>;
  trustProxy?: TrustProxy;
}

/** Any limit not given is the witness's default (src/witness/config.ts). */

export interface Witness {
  app: Hono;
  db: Db;
  log: LogStore;
  sequencer: Sequencer;
  roots: TrustedRoots;
  checkpoints: CheckpointWitness;
  /** The C2SP verifier key agents and auditors pin for this witness's checkpoints. */
  verifierKey: string;
  close(): Promise<void>;
}

/**
 * A witness: its own database, its own key, its own append-only log (the same RFC 9162 store and
 * C2SP checkpoints as the repository's log, under origin `witness/<name>`). It shares nothing with
 * the operator's nodes but the root it was given, so what it logged the operator cannot unlog.
 *
 * The one place a witness is put together, in named steps; each part is built once and handed to
 * those that use it. Nothing listens yet.
 */
export async function createWitness(options: WitnessOptions): Promise<Witness> {
  const clock = options.clock ?? systemClock;
  const now = () => clock.now();
  const db = await openDatabase(options);
  try {
    const { log, sequencer } = openLog(db, options.key, now);
    const roots = await trustRoots(options, now);
    const checkers = new ReceiptCheckers();
    const intake = receiptIntake(options, { db, log, sequencer, roots, checkers }, now);
    const checkpoints = await checkpointWitness(db, sequencer, options, now);
    const vkey = verifierKey(witnessOrigin(options.key.name), options.key.publicKey);
    const app = witnessApp(
      options,
      { db, log, roots, intake, checkpoints, verifierKey: vkey },
      now,
    );
    return {
      app,
      db,
      log,
      sequencer,
      roots,
      checkpoints,
      verifierKey: vkey,
      close: once(async () => {
        await sequencer.idle();
        await checkers.close();
        await db.destroy();
      }),
    };
  } catch (error) {
    // An open PostgreSQL pool would keep the process from exiting (a root that cannot be read, say).
    await db.destroy();
    throw error;
  }
}

/** Its own database: PostgreSQL when given a URL, else a SQLite file in its data directory. */
async function openDatabase(options: WitnessOptions): Promise<Db> {
  privateDir(options.dataDir);
  return connect({
    url: options.databaseUrl ?? join(options.dataDir, 'witness.sqlite'),
    connectTimeoutMs: WITNESS_LIMITS.databaseConnectTimeoutMs,
    poolSize: WITNESS_LIMITS.databasePoolSize,
    statementTimeoutMs: WITNESS_LIMITS.databaseStatementTimeoutMs,
    ...options.database,
  });
}

/** Its own log, its checkpoints signed with its own key under origin `witness/<name>`. */
function openLog(
  db: Db,
  key: WitnessKey,
  now: () => number,
): { log: LogStore; sequencer: Sequencer } {
  const origin = witnessOrigin(key.name);
  const log = new LogStore(db, (size, root) =>
    signCheckpoint({ origin, size, rootHash: root }, origin, key.secretKey),
  );
  return { log, sequencer: new Sequencer(log, now) };
}

/** The root it was given, and its successors as the repository publishes them. */
async function trustRoots(options: WitnessOptions, now: () => number): Promise<TrustedRoots> {
  const roots = new TrustedRoots(
    options.root,
    options.roots,
    now,
    options.rootRefreshMs ?? WITNESS_LIMITS.rootRefreshMs,
  );
  await roots.refresh(true);
  return roots;
}

/** The receipt intake the node runs too (src/receipts/intake.ts), over the witness's own ledger. */
function receiptIntake(
  options: WitnessOptions,
  parts: {
    db: Db;
    log: LogStore;
    sequencer: Sequencer;
    roots: TrustedRoots;
    checkers: ReceiptCheckers;
  },
  now: () => number,
): ReceiptIntake<WitnessAck> {
  const budget = new IntakeBudget(
    {
      perKeyPerMinute: options.perKeyPerMinute ?? WITNESS_LIMITS.receiptsPerKeyPerMinute,
      maxKeys: options.receiptMaxKeys ?? WITNESS_LIMITS.receiptMaxKeys,
      unvouchedPerMinute:
        options.unvouchedReceiptsPerMinute ?? WITNESS_LIMITS.unvouchedReceiptsPerMinute,
    },
    now,
    options.vouched ?? NOTHING_VOUCHED,
    new MinuteBudget(
      options.clientBytesPerMinute ?? WITNESS_LIMITS.clientBytesPerMinute,
      now,
      'bytes of receipts',
    ),
    'receipts',
  );
  return new ReceiptIntake({
    checkers: parts.checkers,
    trust: followedTimestamps(parts.roots),
    budget,
    ledger: new WitnessLedger(parts.db, parts.log, parts.sequencer, now),
    // Its budget vouches from its settings (options.vouched), not from certificates: no owners here,
    // only the record of which certificates it logged.
    enrollments: new VouchedAgents(async () => ({}), now),
    now,
  });
}

/**
 * The checkpoints it cosigns (C2SP tlog-witness), one key ring per log it follows; each cosignature
 * is a leaf of its own log before it is answered (src/common/witness-cosigned.ts).
 */
async function checkpointWitness(
  db: Db,
  sequencer: Sequencer,
  options: WitnessOptions,
  now: () => number,
): Promise<CheckpointWitness> {
  return new CheckpointWitness(
    await migrateWitness(db),
    (options.logs ?? []).map((l) => new LogKeyRing(l.verifier, [], httpKeyRotations(l.url), now)),
    { name: witnessOrigin(options.key.name), secretKey: options.key.secretKey },
    now,
    async (c) => {
      await sequencer.placeAll([
        {
          dedupe: witnessCosignedDedupe(c.origin, c.size),
          data: witnessCosignedLeafBytes({
            cosigned_at: new Date(c.at).toISOString(),
            origin: c.origin,
            size: c.size,
            root: c.root,
            checkpoint: c.note,
            cosignature: c.cosignature,
          }),
        },
      ]);
    },
  );
}

/** The witness's HTTP app: receipts and checkpoints in (rate-limited per address), its log out. */
function witnessApp(
  options: WitnessOptions,
  parts: {
    db: Db;
    log: LogStore;
    roots: TrustedRoots;
    intake: ReceiptIntake<WitnessAck>;
    checkpoints: CheckpointWitness;
    verifierKey: string;
  },
  now: () => number,
): Hono {
  const { db, log, roots, intake, checkpoints } = parts;
  const app = new Hono();
  app.onError(errorResponse);
  app.notFound(notFound);
  const perAddress = rateLimit(
    options.perAddress ?? {
      perSecond: WITNESS_LIMITS.perAddressPerSecond,
      burst: WITNESS_LIMITS.perAddressBurst,
      maxBuckets: WITNESS_LIMITS.rateLimitMaxBuckets,
    },
    clientAddressOf(options.trustProxy ?? TRUST_NO_PROXY),
    now,
  );
  app.use('/receipts', perAddress.middleware);
  app.use('/add-checkpoint', perAddress.middleware);
  app.get('/healthz', async (c) =>
    c.json({
      ok: true,
      witness: witnessOrigin(options.key.name),
      verifier_key: parts.verifierKey,
      log_size: (await log.head()).size,
      root_version: roots.version,
    }),
  );
  app.route(
    '/',
    receiptRoutes({
      intake,
      maxJsonBytes: options.maxJsonBytes ?? WITNESS_LIMITS.maxJsonBytes,
    }),
  );
  app.route('/', receiptPageRoutes({ db, log }));
  app.route('/log', logRoutes({ log, verifierKey: parts.verifierKey }));
  app.route(
    '/',
    addCheckpointRoutes(
      checkpoints,
      options.maxAddCheckpointBytes ?? WITNESS_LIMITS.maxAddCheckpointBytes,
    ),
  );
  return app;
}
