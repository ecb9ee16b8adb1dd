import { z } from 'zod';
import { redactUrl } from '../config/redact.js';
import { defineSettings } from '../config/settings.js';
import {
  bytes,
  connectionSettings,
  duration,
  port,
  rate,
  refineRequestTimeouts,
  text,
  trustProxy,
  url,
  whole,
} from '../config/values.js';

/**
 * Every setting of a witness (`fairpatch witness serve`), declared the way the node's are
 * (src/server/config.ts, src/config/): its kind, its default, one line saying what it does, and
 * where it may come from. Its flags and help, the witness table of docs/configuration.md and the
 * defaults createWitness falls back on all come from here. Every limit the witness enforces is one
 * of these settings.
 */

/** What it follows and where it keeps things: the repository's log, root and key have no default. */
const WHERE = {
  logUrl: url().describe('the repository node whose roots (and checkpoints) this witness follows'),
  logKeyFile: text().describe(
    "the repository log's C2SP verifier key (keys/log.vkey), pinned out of band",
  ),
  rootFile: text().describe(
    "the repository's trusted TUF root (1.root.json); newer roots are followed from --log",
  ),
  keyFile: text()
    .prefault('witness.key')
    .describe(
      "this witness's key file (fairpatch keygen --witness NAME writes NAME.key and NAME.vkey)",
    ),
  dataDir: text().prefault('witness-data').describe('data directory (SQLite file)'),
  databaseUrl: text()
    .optional()
    .describe('postgres://… to keep the witness log in PostgreSQL; default: SQLite in dataDir'),
  host: text().prefault('127.0.0.1').describe('address to listen on'),
  port: port().prefault(8090).describe('port to listen on (0: any free port)'),
  trustProxy: trustProxy()
    .prefault('none')
    .describe(
      'proxies whose X-Forwarded-For names the client (for the per-address limits): addresses or CIDR ranges, or a number of hops every request passes; none: the socket peer is the client',
    ),
};

/** What it takes from whom: each has a default, so a witness is bounded when nothing is said. */
const LIMITS = {
  // Connections and requests.
  ...connectionSettings(''),
  maxJsonBytes: bytes()
    .prefault('4MiB')
    .describe('largest batch of receipts accepted (POST /receipts); 413 PAYLOAD_TOO_LARGE above'),
  maxAddCheckpointBytes: bytes()
    .prefault('64KiB')
    .describe(
      'largest checkpoint with its proof to cosign (POST /add-checkpoint; a few KB); 413 PAYLOAD_TOO_LARGE above',
    ),

  // Rate limits (429 RATE_LIMITED with Retry-After).
  perAddressPerSecond: rate()
    .prefault(50)
    .describe('receipt and checkpoint submissions per second per client address, sustained'),
  perAddressBurst: whole(1)
    .prefault(200)
    .describe('receipt and checkpoint submissions per client address allowed at once'),
  rateLimitMaxBuckets: whole(1)
    .prefault(50_000)
    .describe('client addresses remembered (least recently seen forgotten first)'),
  receiptsPerKeyPerMinute: whole(1)
    .prefault(600)
    .describe('receipts one agent key may have logged per minute'),
  receiptMaxKeys: whole(1)
    .prefault(100_000)
    .describe('agent keys whose per-minute budget is remembered at once'),
  unvouchedReceiptsPerMinute: whole(1)
    .prefault(600)
    .describe('receipts all agent keys no owner vouches for may have logged per minute, together'),
  clientBytesPerMinute: bytes()
    .prefault('16MiB')
    .describe(
      'bytes receipts from all clients may add to the log and database per minute, together',
    ),

  // Following the repository's roots.
  rootRefreshMs: duration()
    .prefault('30s')
    .describe(
      'newer roots are looked up at most this often (when a document is signed by a key not yet trusted)',
    ),
  rootFetchTimeoutMs: duration()
    .prefault('10s')
    .describe('longest wait for the repository node to answer a root lookup'),

  // Storage.
  databaseConnectTimeoutMs: duration()
    .prefault('5s')
    .describe('over PostgreSQL: longest wait for a new connection'),
  databasePoolSize: whole(1)
    .prefault(10)
    .describe('over PostgreSQL: connections the witness keeps at most'),
  databaseStatementTimeoutMs: duration()
    .prefault('10s')
    .describe('over PostgreSQL: longest statement before the server cancels it'),
};

export const WitnessConfig = z
  .strictObject({ ...WHERE, ...LIMITS })
  .superRefine(refineRequestTimeouts);

/** A witness's settings, validated, every default filled in; durations in ms, sizes in bytes. */
export type WitnessConfig = z.output<typeof WitnessConfig>;
/** The limits alone: createWitness takes them (tests and benchmarks set a few, the rest default). */
export type WitnessLimits = z.output<z.ZodObject<typeof LIMITS>>;

/** The limits of a witness when nothing is said. */
export const WITNESS_LIMITS: WitnessLimits = z.strictObject(LIMITS).parse({});

/** The witness's settings as `fairpatch witness serve` and docs/configuration.md present them. */
export const WITNESS_SETTINGS = defineSettings({
  shape: { ...WHERE, ...LIMITS },
  schema: WitnessConfig,
  // Its own prefix: FAIRPATCH_MAX_JSON_BYTES meant for a node does not change a witness beside it
  // (PORT, HOST and DATABASE_URL keep their usual unprefixed names, as before).
  envPrefix: 'FAIRPATCH_WITNESS_',
  differing: {
    logUrl: { flag: 'log', env: 'FAIRPATCH_WITNESS_LOG_URL', arg: 'URL' },
    logKeyFile: { flag: 'log-key', env: 'FAIRPATCH_WITNESS_LOG_KEY_FILE', arg: 'FILE' },
    rootFile: { flag: 'root', env: 'FAIRPATCH_WITNESS_ROOT_FILE', arg: 'FILE' },
    keyFile: { flag: 'key', env: 'FAIRPATCH_WITNESS_KEY_FILE', arg: 'FILE' },
    dataDir: { flag: 'data', env: 'FAIRPATCH_WITNESS_DATA_DIR', arg: 'DIR' },
    databaseUrl: { flag: null, env: 'DATABASE_URL', arg: 'URL' },
    host: { env: 'HOST', arg: 'H' },
    port: { env: 'PORT' },
    trustProxy: { arg: 'CIDRS|N' },
    rootRefreshMs: { flag: 'root-refresh-interval' },
  },
});

/**
 * The settings as they may be shown: any database password hidden. The key file's path is shown (it
 * is where the key is, not the key); no setting holds key material.
 */
export function redactedWitnessConfig(config: WitnessConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  if (config.databaseUrl) out.databaseUrl = redactUrl(config.databaseUrl);
  return out;
}
