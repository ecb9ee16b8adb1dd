import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { REDACTED, redactUrl } from '../config/redact.js';
import { defineSettings } from '../config/settings.js';
import { DEFAULT_MAX_BUCKETS } from '../http/rate-limit.js';
import { LOG_FORMATS, LOG_LEVELS } from './ops-log.js';
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
  urls,
  whole,
} from '../config/values.js';

/**
 * Every setting of a repository node, in one place: its type, its default, one line saying what it
 * does, and where it may come from (a `fairpatch serve` flag, an environment variable, a --config
 * file). The flags and their help, docs/configuration.md and the node's defaults all come from this
 * table, so none of them can drift from the others. The kinds of value (durations, sizes, rates) and
 * how sources are put together are shared with the witness's settings (src/config/).
 */

/**
 * Processes serving one port: a number, or auto for one per core. Auto becomes the core count here,
 * so the node and --print-config see how many processes will serve, not the word that chose it.
 */
const workers = () =>
  z.union([z.literal('auto'), z.number(), z.string()]).transform((value, ctx) => {
    if (value === 'auto') return availableParallelism();
    const n = typeof value === 'number' ? value : /^\d+$/.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < 1 || n > 1024) {
      ctx.addIssue({ code: 'custom', message: 'must be auto or a positive integer' });
      return z.NEVER;
    }
    return n;
  });

/**
 * The settings. `prefault` holds each default as it would be written (it is parsed like any value):
 * the help and the docs show it as is.
 */
const SHAPE = {
  // Where the node keeps things and where it listens.
  dataDir: text().prefault('data').describe('data directory (SQLite file, blobs)'),
  keysDir: text().prefault('keys').describe('key directory'),
  databaseUrl: text()
    .optional()
    .describe(
      'postgres://… to keep state in PostgreSQL (several nodes); default: SQLite in dataDir',
    ),
  operatorToken: text()
    .optional()
    .describe('an operator token imported at start-up (the operator API accepts it)'),
  host: text().prefault('127.0.0.1').describe('address to listen on'),
  port: port().prefault(8080).describe('port to listen on (0: any free port)'),
  workers: workers()
    .prefault('auto')
    .describe('processes serving requests on one port (auto: one per core)'),
  nodeName: text()
    // The roll-up leaf's bound (src/log/leaves.ts): a longer name would make leaves no auditor reads.
    .max(128, 'must be at most 128 characters (what a roll-up leaf takes)')
    .optional()
    .describe('names this node in delivery roll-ups (default host:pid)'),
  trustProxy: trustProxy()
    .prefault('none')
    .describe(
      'proxies whose X-Forwarded-For names the client: addresses or CIDR ranges (10.0.0.0/8,::1), or a number of hops every request passes; none: the socket peer is the client',
    ),
  publicUrl: url()
    .optional()
    .describe(
      'the URL clients reach this repository at: CSAF provider-metadata.json and the ROLIE feed name their files under it (default: the origin each request names)',
    ),
  witnesses: urls()
    .prefault([])
    .describe(
      'witnesses asked to cosign each new log checkpoint (C2SP tlog-witness); the cosigned checkpoint is served at /log/checkpoint',
    ),

  // Releases and time.
  minLeadMs: duration().prefault('30s').describe('shortest time between publishing and release_at'),
  maxHorizonMs: duration().prefault('90d').describe('furthest ahead a release may be scheduled'),
  maxClockSkewMs: duration()
    .prefault('100ms')
    .describe(
      "over PostgreSQL: largest difference from the database's clock before the node stops serving ticks",
    ),
  rollupMs: duration()
    .prefault('1m')
    .describe('how often poll counts are rolled up into the transparency log'),

  // Connections and requests.
  ...connectionSettings(' (artifact uploads too)'),
  maxJsonBytes: bytes()
    .prefault('4MiB')
    .describe(
      'largest JSON body accepted (publisher and operator API, receipts); 413 PAYLOAD_TOO_LARGE above',
    ),
  maxArtifactBytes: bytes()
    .prefault('1GiB')
    .describe('largest artifact upload; 413 PAYLOAD_TOO_LARGE above'),

  // Rate limits (token buckets; 429 RATE_LIMITED with Retry-After).
  publisherPerTokenPerSecond: rate()
    .prefault(10)
    .describe('publisher API requests per second per token, sustained'),
  publisherPerTokenBurst: whole(1)
    .prefault(60)
    .describe('publisher API requests per token allowed at once after a quiet period'),
  publisherPerAddressPerSecond: rate()
    .prefault(20)
    .describe('publisher API requests per second per client address, sustained'),
  publisherPerAddressBurst: whole(1)
    .prefault(120)
    .describe('publisher API requests per client address allowed at once'),
  agentPerAddressPerSecond: rate()
    .prefault(200)
    .describe('receipts and install reports per second per client address, sustained'),
  agentPerAddressBurst: whole(1)
    .prefault(400)
    .describe('receipts and install reports per client address allowed at once'),
  rateLimitMaxBuckets: whole(1)
    .prefault(DEFAULT_MAX_BUCKETS)
    .describe('clients remembered per rate limit (least recently seen forgotten first)'),
  receiptsPerKeyPerMinute: whole(1)
    .prefault(600)
    .describe('observations one agent key may submit per minute'),
  receiptMaxKeys: whole(1)
    .prefault(100_000)
    .describe('agent keys whose per-minute budget is remembered at once'),
  unvouchedReceiptsPerMinute: whole(1)
    .prefault(600)
    .describe(
      'observations (and, apart, install reports) all agent keys no owner vouches for may submit per minute, together',
    ),
  clientBytesPerMinute: bytes()
    .prefault('16MiB')
    .describe(
      'bytes receipts and install reports from all clients may add to the log and database per minute, together',
    ),

  // Event streams (GET /g/<group>/events).
  maxStreams: whole(1).prefault(20_000).describe('open event streams per node'),
  maxStreamsPerAddress: whole(1).prefault(64).describe('event streams one client address may hold'),
  maxStreamQueuedBytes: bytes()
    .prefault('256KiB')
    .describe('unread bytes after which a stream is dropped (the client reconnects and resumes)'),
  streamIdleMs: duration()
    .prefault('30m')
    .describe('event streams are closed after this long; clients reconnect'),
  streamHeartbeatMs: duration()
    .prefault('15s')
    .describe('how often open event streams get a heartbeat (keeps proxies from closing them)'),
  streamRetryMs: duration()
    .prefault('3s')
    .describe('reconnect delay suggested to event-stream clients (retry:)'),

  // Storage and metrics.
  blobChunkBytes: bytes().prefault('1MiB').describe('chunk size of artifacts stored in PostgreSQL'),
  databaseConnectTimeoutMs: duration()
    .prefault('5s')
    .describe('over PostgreSQL: longest wait for a new connection'),
  databasePoolSize: whole(1)
    .prefault(10)
    .describe('over PostgreSQL: connections each node process keeps at most'),
  databaseStatementTimeoutMs: duration()
    .prefault('10s')
    .describe('over PostgreSQL: longest statement before the server cancels it'),
  dashboardMaxLogBytes: bytes()
    .prefault('64MiB')
    .describe(
      'leaf bytes other than roll-ups the dashboard at / keeps in memory at most (roll-ups are summed as it reads them; its heap is about four times that); past it, its page shows the log below the bound, marked stale (fairpatch audit reads the whole log)',
    ),
  metricsMaxGroups: whole(1)
    .prefault(1000)
    .describe('groups counted by name in /metrics (the rest under _overflow)'),

  // The operations log (publishes, activations, halts, rotations, embargoes, database, witnesses, refusals).
  logFormat: z
    .enum(LOG_FORMATS, 'must be text or json')
    .prefault('text')
    .describe('operations log lines: text, or json (one object per line, for a log collector)'),
  logLevel: z
    .enum(LOG_LEVELS, 'must be debug, info, warn or error')
    .prefault('info')
    .describe('least severe operations log line written: debug, info, warn or error'),
};

export const NodeConfig = z.strictObject(SHAPE).superRefine(refineRequestTimeouts);

/** A node's settings, validated, every default filled in; durations in ms, sizes in bytes. */
export type NodeConfig = z.output<typeof NodeConfig>;
/** What may be given: any subset, durations as text or ms. */
export type NodeConfigInput = z.input<typeof NodeConfig>;
export type SettingName = keyof typeof SHAPE;

/** The node's settings as `fairpatch serve` and docs/configuration.md present them. */
export const NODE_SETTINGS = defineSettings({
  shape: SHAPE,
  schema: NodeConfig,
  envPrefix: 'FAIRPATCH_',
  differing: {
    dataDir: { flag: 'data', env: 'FAIRPATCH_DATA_DIR', arg: 'DIR' },
    keysDir: { flag: 'keys', env: 'FAIRPATCH_KEYS_DIR', arg: 'DIR' },
    databaseUrl: { flag: null, env: 'DATABASE_URL', arg: 'URL' },
    operatorToken: { flag: null, arg: 'TOKEN' },
    host: { env: 'HOST', arg: 'H' },
    port: { env: 'PORT' },
    nodeName: { arg: 'NAME' },
    trustProxy: { arg: 'CIDRS|N' },
    publicUrl: { arg: 'URL' },
    witnesses: { flag: 'witness', env: 'FAIRPATCH_WITNESSES', arg: 'URL', multiple: true },
    rollupMs: { flag: 'rollup-interval' },
    logFormat: { arg: 'FORMAT' },
    logLevel: { arg: 'LEVEL' },
  },
});

/** The defaults, as a node gets them when nothing is said. */
export const NODE_DEFAULTS: NodeConfig = NodeConfig.parse({});

/** Validates a node's settings; a refusal is one line naming the setting as its source called it. */
export const parseNodeConfig = (
  input: Record<string, unknown>,
  labels?: Partial<Record<string, string>>,
): NodeConfig => NODE_SETTINGS.parse(input, labels);

/** The configuration as it may be shown: the operator token and any database password hidden. */
export function redactedConfig(config: NodeConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  if (config.operatorToken) out.operatorToken = REDACTED;
  if (config.databaseUrl) out.databaseUrl = redactUrl(config.databaseUrl);
  return out;
}
