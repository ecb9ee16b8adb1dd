import { z } from 'zod';
import { durationMs } from '../common/duration.js';
import { parseTrustProxy } from '../http/trust-proxy.js';

/**
 * Every setting of a repository node, in one place: its type, its default, one line saying what it
 * does, and where it may come from (a `fairpatch serve` flag, an environment variable, a --config
 * file). The flags and their help, docs/configuration.md and the node's defaults all come from this
 * table, so none of them can drift from the others.
 *
 * Durations follow the project's grammar (src/common/duration.ts: "500ms", "60s", "5m", "90d"; a bare
 * number in text is seconds); a JSON number is milliseconds. Once parsed, every duration is in ms.
 */

const DURATION = 'a duration such as 500ms, 60s, 5m or 90d (a JSON number: milliseconds)';
const SIZE_UNITS = { '': 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 } as const;

/** A duration: text in the duration grammar, or a number of milliseconds. */
const duration = () =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    const ms = typeof value === 'number' ? value : durationMs(value);
    if (ms === undefined || !Number.isSafeInteger(ms) || ms < 0) {
      ctx.addIssue({ code: 'custom', message: `must be ${DURATION}` });
      return z.NEVER;
    }
    return ms;
  });

/** A whole number from `min` to `max`, as text or a number. */
const whole = (min: number, max = Number.MAX_SAFE_INTEGER, expects = 'a positive integer') =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    const n = typeof value === 'number' ? value : /^\d+$/.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `must be ${expects}` });
      return z.NEVER;
    }
    return n;
  });

/** A size in bytes: 65536, 256KiB, 4MiB, 1GiB. */
const bytes = () =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    const match = typeof value === 'string' ? /^(\d+)(KiB|MiB|GiB)?$/.exec(value.trim()) : null;
    const n =
      typeof value === 'number'
        ? value
        : match
          ? Number(match[1]) * SIZE_UNITS[(match[2] ?? '') as keyof typeof SIZE_UNITS]
          : NaN;
    if (!Number.isSafeInteger(n) || n < 1) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be a size in bytes such as 65536, 256KiB or 4MiB',
      });
      return z.NEVER;
    }
    return n;
  });

/** Requests per second: a positive number, fractions allowed (0.5: one every two seconds). */
const rate = () =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    const n =
      typeof value === 'number' ? value : /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isFinite(n) || n <= 0) {
      ctx.addIssue({ code: 'custom', message: 'must be a positive number of requests per second' });
      return z.NEVER;
    }
    return n;
  });

const text = () => z.string().trim().min(1, 'must not be empty');

/** http(s) URLs, as a list or as text separated by commas. */
const urls = () =>
  z.union([z.array(z.string()), z.string()]).transform((value, ctx) => {
    const list = (typeof value === 'string' ? value.split(',') : value)
      .map((u) => u.trim())
      .filter(Boolean);
    for (const u of list) {
      let url: URL | undefined;
      try {
        url = new URL(u);
      } catch {
        url = undefined;
      }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
        const guess = /^[\w.-]+(:\d+)?(\/.*)?$/.test(u) ? `; did you mean http://${u}?` : '';
        ctx.addIssue({
          code: 'custom',
          message: `must be http(s) URLs separated by commas; '${u}' is not one${guess}`,
        });
        return z.NEVER;
      }
    }
    return list;
  });

const trustProxy = () =>
  z.string().transform((value, ctx) => {
    const parsed = parseTrustProxy(value);
    if (typeof parsed === 'string') {
      ctx.addIssue({
        code: 'custom',
        message: `must be none, a hop count, or addresses and CIDR ranges separated by commas (${parsed})`,
      });
      return z.NEVER;
    }
    return value.trim() || 'none';
  });

const workers = () =>
  z.union([z.literal('auto'), z.number(), z.string()]).transform((value, ctx) => {
    if (value === 'auto') return 'auto' as const;
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
  port: whole(0, 65_535, 'a port number from 0 to 65535')
    .prefault(8080)
    .describe('port to listen on (0: any free port)'),
  workers: workers()
    .prefault('auto')
    .describe('processes serving requests on one port (auto: one per core)'),
  nodeName: text().optional().describe('names this node in delivery roll-ups (default host:pid)'),
  trustProxy: trustProxy()
    .prefault('none')
    .describe(
      'proxies whose X-Forwarded-For names the client: addresses or CIDR ranges (10.0.0.0/8,::1), or a number of hops every request passes; none: the socket peer is the client',
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
  requestTimeoutMs: duration()
    .prefault('60s')
    .describe('longest time to receive one request, body included (artifact uploads too)'),
  headersTimeoutMs: duration()
    .prefault('10s')
    .describe("longest time to receive a request's headers (at most the request timeout)"),
  maxConnectionsPerAddress: whole(1)
    .prefault(256)
    .describe('open connections one client address may hold (trusted proxies are not capped)'),
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
    .prefault(50_000)
    .describe('clients remembered per rate limit (least recently seen forgotten first)'),
  receiptsPerKeyPerMinute: whole(1)
    .prefault(600)
    .describe('observations one agent key may submit per minute'),
  receiptMaxKeys: whole(1)
    .prefault(100_000)
    .describe('agent keys whose per-minute budget is remembered at once'),

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
  metricsMaxGroups: whole(1)
    .prefault(1000)
    .describe('groups counted by name in /metrics (the rest under _overflow)'),
};

export const NodeConfig = z.strictObject(SHAPE).superRefine((c, ctx) => {
  if (c.headersTimeoutMs < 1 || c.headersTimeoutMs > c.requestTimeoutMs)
    ctx.addIssue({
      code: 'custom',
      path: ['headersTimeoutMs'],
      message: `must be positive and at most the request timeout (${c.requestTimeoutMs}ms)`,
    });
  if (c.requestTimeoutMs < 1)
    ctx.addIssue({ code: 'custom', path: ['requestTimeoutMs'], message: 'must be positive' });
});

/** A node's settings, validated, every default filled in; durations in ms, sizes in bytes. */
export type NodeConfig = z.output<typeof NodeConfig>;
/** What may be given: any subset, durations as text or ms. */
export type NodeConfigInput = z.input<typeof NodeConfig>;
export type SettingName = keyof typeof SHAPE;

/** Where a setting may come from, besides a --config file (which takes every setting by its name). */
export interface SettingSource {
  /** The `fairpatch serve` flag, without `--`; null for secrets (environment or file only). */
  flag: string | null;
  env: string | null;
  /** The value's placeholder in help. */
  arg: string;
  /** A flag given several times adds up (the values joined by commas). */
  multiple?: boolean;
}

const env = (flag: string) => `FAIRPATCH_${flag.toUpperCase().replace(/-/g, '_')}`;
const kebab = (name: string) =>
  name.replace(/Ms$/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Flag `--max-foo-bar` and env `FAIRPATCH_MAX_FOO_BAR` for `maxFooBarMs`, except where named here. */
const SOURCES_DIFFERING: Partial<Record<SettingName, Partial<SettingSource>>> = {
  dataDir: { flag: 'data', env: 'FAIRPATCH_DATA_DIR', arg: 'DIR' },
  keysDir: { flag: 'keys', env: 'FAIRPATCH_KEYS_DIR', arg: 'DIR' },
  databaseUrl: { flag: null, env: 'DATABASE_URL', arg: 'URL' },
  operatorToken: { flag: null, arg: 'TOKEN' },
  host: { env: 'HOST', arg: 'H' },
  port: { env: 'PORT' },
  nodeName: { arg: 'NAME' },
  trustProxy: { arg: 'CIDRS|N' },
  witnesses: { flag: 'witness', env: 'FAIRPATCH_WITNESSES', arg: 'URL', multiple: true },
  rollupMs: { flag: 'rollup-interval' },
};

const ARG_BY_KIND = (name: string): string =>
  name.endsWith('Ms')
    ? 'DURATION'
    : name.endsWith('Bytes')
      ? 'SIZE'
      : name.endsWith('PerSecond')
        ? 'RATE'
        : 'N';

export const SETTING_NAMES = Object.keys(SHAPE) as SettingName[];

/** Flag, environment variable and placeholder of every setting. */
export const SETTING_SOURCES: Record<SettingName, SettingSource> = Object.fromEntries(
  SETTING_NAMES.map((name) => {
    const differing = SOURCES_DIFFERING[name] ?? {};
    const flag = differing.flag === undefined ? kebab(name) : differing.flag;
    const source: SettingSource = {
      flag,
      env: differing.env === undefined ? env(flag ?? kebab(name)) : differing.env,
      arg: differing.arg ?? ARG_BY_KIND(name),
      ...(differing.multiple ? { multiple: true } : {}),
    };
    return [name, source];
  }),
) as Record<SettingName, SettingSource>;

/** The default as written (`30s`, `4MiB`), or undefined when the setting has none. */
export function settingDefault(name: SettingName): string | undefined {
  const def = (SHAPE[name] as z.ZodType)._zod.def as { type: string; defaultValue?: unknown };
  if (def.type !== 'prefault') return undefined;
  const value = def.defaultValue;
  return Array.isArray(value) ? (value.length ? value.join(',') : undefined) : String(value);
}

export function settingDescription(name: SettingName): string {
  return SHAPE[name].description ?? '';
}

/** A setting that is malformed; the message names where it came from and what it should be. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The defaults, as a node gets them when nothing is said. */
export const NODE_DEFAULTS: NodeConfig = NodeConfig.parse({});

function describeValue(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(JSON.stringify(value));
}

/**
 * Validates settings; every refusal is one line naming the setting as its source called it (a flag,
 * an environment variable, a key of a config file) and what it should be.
 */
export function parseNodeConfig(
  input: Record<string, unknown>,
  labels: Partial<Record<string, string>> = {},
): NodeConfig {
  const result = NodeConfig.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    throw new ConfigError(
      `${labels[key] ?? key}: unknown setting; known ones are listed in docs/configuration.md`,
    );
  }
  const key = String(issue.path[0] ?? '');
  const label = labels[key] ?? key;
  const expected = issue.message.startsWith('must ')
    ? issue.message
    : `must be ${expectation(key as SettingName)}`;
  // A message that already quotes the value does not repeat it.
  const value = key in input ? describeValue(input[key]) : undefined;
  const given = value && !expected.includes(value) ? `, not ${value}` : '';
  throw new ConfigError(`${label} ${expected}${given}`);
}

/** What a setting of this name expects, for a value of the wrong JSON type. */
function expectation(name: SettingName): string {
  const arg = SETTING_SOURCES[name]?.arg;
  if (arg === 'DURATION') return DURATION;
  if (arg === 'SIZE') return 'a size in bytes such as 65536, 256KiB or 4MiB';
  if (arg === 'RATE') return 'a positive number of requests per second';
  if (arg === 'N') return 'a positive integer';
  if (SETTING_SOURCES[name]?.multiple) return 'a list of http(s) URLs';
  return 'a string';
}

export interface ConfigSources {
  /** What the command line said, by flag name (without `--`); a repeated flag joined by commas. */
  flags?: Record<string, string | boolean | undefined>;
  env?: Record<string, string | undefined>;
  /** The parsed JSON of a --config file, and its path (for messages). */
  file?: { path: string; values: unknown };
}

/**
 * The one place a node's settings are put together: a flag beats the --config file, which beats the
 * environment, which beats the default (the precedence every fairpatch command uses). The result is
 * validated as a whole; a refusal names the flag, variable or file key that was wrong.
 */
export function resolveNodeConfig(sources: ConfigSources): NodeConfig {
  const input: Record<string, unknown> = {};
  const labels: Record<string, string> = {};
  const set = (name: string, value: unknown, label: string) => {
    input[name] = value;
    labels[name] = label;
  };
  for (const name of SETTING_NAMES) {
    const { env } = SETTING_SOURCES[name];
    const fromEnv = env ? sources.env?.[env] : undefined;
    if (env && fromEnv !== undefined && fromEnv !== '') set(name, fromEnv, env);
  }
  const file = sources.file;
  if (file) {
    const values = file.values;
    if (!values || typeof values !== 'object' || Array.isArray(values))
      throw new ConfigError(`--config ${file.path} must hold a JSON object of settings`);
    for (const [name, value] of Object.entries(values))
      set(name, value, `--config ${file.path}: "${name}"`);
  }
  for (const name of SETTING_NAMES) {
    const { flag } = SETTING_SOURCES[name];
    const fromFlag = flag ? sources.flags?.[flag] : undefined;
    if (typeof fromFlag === 'string') set(name, fromFlag, `--${flag}`);
  }
  return parseNodeConfig(input, labels);
}

/** The configuration as it may be shown: the operator token and any database password hidden. */
export function redactedConfig(config: NodeConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  if (config.operatorToken) out.operatorToken = '[redacted]';
  if (config.databaseUrl) out.databaseUrl = redactUrl(config.databaseUrl);
  return out;
}

function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text;
  }
  if (url.password) url.password = 'redacted';
  // A copy: setting a parameter rewrites the list being iterated.
  // oxlint-disable-next-line unicorn/no-useless-spread
  for (const key of [...url.searchParams.keys()])
    if (/pass/i.test(key)) url.searchParams.set(key, 'redacted');
  return url.toString();
}
