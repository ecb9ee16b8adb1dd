import { join } from 'node:path';
import { Hono } from 'hono';
import { privateDir } from '../common/files.js';
import { type Clock, systemClock } from '../common/clock.js';
import { witnessOrigin } from '../common/witness.js';
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
 */
export async function createWitness(options: WitnessOptions): Promise<Witness> {
  const clock = options.clock ?? systemClock;
  const now = () => clock.now();
  privateDir(options.dataDir);
  const db = await connect({
    url: options.databaseUrl ?? join(options.dataDir, 'witness.sqlite'),
    connectTimeoutMs: WITNESS_LIMITS.databaseConnectTimeoutMs,
    poolSize: WITNESS_LIMITS.databasePoolSize,
    statementTimeoutMs: WITNESS_LIMITS.databaseStatementTimeoutMs,
    ...options.database,
  });
  const { name, secretKey, publicKey } = options.key;
  const log = new LogStore(db, (size, root) =>
    signCheckpoint(
      { origin: witnessOrigin(name), size, rootHash: root },
      witnessOrigin(name),
      secretKey,
    ),
  );
  const sequencer = new Sequencer(log, now);
  const roots = new TrustedRoots(
    options.root,
    options.roots,
    now,
    options.rootRefreshMs ?? WITNESS_LIMITS.rootRefreshMs,
  );
  await roots.refresh(true);
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
  const checkers = new ReceiptCheckers();
  const intake = new ReceiptIntake({
    checkers,
    trust: followedTimestamps(roots),
    budget,
    ledger: new WitnessLedger(db, log, sequencer, now),
    // Its budget vouches from its settings (options.vouched), not from certificates: no owners here,
    // only the record of which certificates it logged.
    enrollments: new VouchedAgents(async () => ({}), now),
    now,
  });
  const vkey = verifierKey(witnessOrigin(name), publicKey);
  const checkpoints = new CheckpointWitness(
    await migrateWitness(db),
    (options.logs ?? []).map((l) => new LogKeyRing(l.verifier, [], httpKeyRotations(l.url), now)),
    { name: witnessOrigin(name), secretKey },
    now,
  );

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
      witness: witnessOrigin(name),
      verifier_key: vkey,
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
  app.route('/log', logRoutes({ log, verifierKey: vkey }));
  app.route(
    '/',
    addCheckpointRoutes(
      checkpoints,
      options.maxAddCheckpointBytes ?? WITNESS_LIMITS.maxAddCheckpointBytes,
    ),
  );

  return {
    app,
    db,
    log,
    sequencer,
    roots,
    checkpoints,
    verifierKey: vkey,
    async close() {
      await sequencer.idle();
      await checkers.close();
      await db.destroy();
    },
  };
}
