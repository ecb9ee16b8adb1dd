import { z } from 'zod';
import { durationMs } from '../common/duration.js';
import { parseTrustProxy } from '../common/trust-proxy.js';

/**
 * The kinds of value a setting may hold, shared by every settings schema (the node's, the witness's).
 * Each accepts text (a flag, an environment variable) and, where it makes sense, a JSON number (a
 * --config file), and refuses anything else with a message starting `must `, which the refusal line
 * (src/config/settings.ts) puts after the setting's name.
 *
 * Durations follow the project's grammar (src/common/duration.ts: "500ms", "60s", "5m", "90d"; a bare
 * number in text is seconds); a JSON number is milliseconds. Once parsed, every duration is in ms.
 */

export const DURATION = 'a duration such as 500ms, 60s, 5m or 90d (a JSON number: milliseconds)';
export const SIZE = 'a size in bytes such as 65536, 256KiB or 4MiB';
export const RATE = 'a positive number of requests per second';
const SIZE_UNITS = { '': 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 } as const;

/** A duration: text in the duration grammar, or a number of milliseconds. */
export const duration = () =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    const ms = typeof value === 'number' ? value : durationMs(value);
    if (ms === undefined || !Number.isSafeInteger(ms) || ms < 0) {
      ctx.addIssue({ code: 'custom', message: `must be ${DURATION}` });
      return z.NEVER;
    }
    return ms;
  });

/** A whole number from `min` to `max`, as text or a number. */
export const whole = (min: number, max = Number.MAX_SAFE_INTEGER, expects = 'a positive integer') =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    const n = typeof value === 'number' ? value : /^\d+$/.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `must be ${expects}` });
      return z.NEVER;
    }
    return n;
  });

export const port = () => whole(0, 65_535, 'a port number from 0 to 65535');

/** A size in bytes: 65536, 256KiB, 4MiB, 1GiB. */
export const bytes = () =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    const match = typeof value === 'string' ? /^(\d+)(KiB|MiB|GiB)?$/.exec(value.trim()) : null;
    const n =
      typeof value === 'number'
        ? value
        : match
          ? Number(match[1]) * SIZE_UNITS[(match[2] ?? '') as keyof typeof SIZE_UNITS]
          : NaN;
    if (!Number.isSafeInteger(n) || n < 1) {
      ctx.addIssue({ code: 'custom', message: `must be ${SIZE}` });
      return z.NEVER;
    }
    return n;
  });

/** Requests per second: a positive number, fractions allowed (0.5: one every two seconds). */
export const rate = () =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    const n =
      typeof value === 'number' ? value : /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isFinite(n) || n <= 0) {
      ctx.addIssue({ code: 'custom', message: `must be ${RATE}` });
      return z.NEVER;
    }
    return n;
  });

export const text = () => z.string().trim().min(1, 'must not be empty');

/** Why `u` is not an http(s) URL (with the likely fix), or undefined when it is one. */
function notHttpUrl(u: string): string | undefined {
  let url: URL | undefined;
  try {
    url = new URL(u);
  } catch {
    url = undefined;
  }
  if (url && (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname)
    return undefined;
  // "localhost:8080" (no scheme) is the usual slip, so the fix is spelled out.
  return `'${u}' is not one${/^[\w.-]+(:\d+)?(\/.*)?$/.test(u) ? `; did you mean http://${u}?` : ''}`;
}

/** One http(s) URL. */
export const url = () =>
  z.string().transform((value, ctx) => {
    const u = value.trim();
    const problem = notHttpUrl(u);
    if (problem) {
      ctx.addIssue({ code: 'custom', message: `must be an http(s) URL; ${problem}` });
      return z.NEVER;
    }
    return u;
  });

/** http(s) URLs, as a list or as text separated by commas. */
export const urls = () =>
  z.union([z.array(z.string()), z.string()]).transform((value, ctx) => {
    const list = (typeof value === 'string' ? value.split(',') : value)
      .map((u) => u.trim())
      .filter(Boolean);
    for (const u of list) {
      const problem = notHttpUrl(u);
      if (problem) {
        ctx.addIssue({
          code: 'custom',
          message: `must be http(s) URLs separated by commas; ${problem}`,
        });
        return z.NEVER;
      }
    }
    return list;
  });

/** Which proxies' X-Forwarded-For is believed (src/common/trust-proxy.ts), kept as written. */
export const trustProxy = () =>
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

/**
 * What every server here bounds about its clients' connections (a node and a witness alike);
 * `requestBodies` says which bodies the request timeout has to leave time for.
 */
export const connectionSettings = (requestBodies: string) => ({
  requestTimeoutMs: duration()
    .prefault('60s')
    .describe(`longest time to receive one request, body included${requestBodies}`),
  headersTimeoutMs: duration()
    .prefault('10s')
    .describe("longest time to receive a request's headers (at most the request timeout)"),
  maxConnectionsPerAddress: whole(1)
    .prefault(256)
    .describe('open connections one client address may hold (trusted proxies are not capped)'),
});

/** The check across a server's two request timeouts: headers first, within the whole request's time. */
export function refineRequestTimeouts(
  c: { requestTimeoutMs: number; headersTimeoutMs: number },
  ctx: z.RefinementCtx,
): void {
  if (c.headersTimeoutMs < 1 || c.headersTimeoutMs > c.requestTimeoutMs)
    ctx.addIssue({
      code: 'custom',
      path: ['headersTimeoutMs'],
      message: `must be positive and at most the request timeout (${c.requestTimeoutMs}ms)`,
    });
  if (c.requestTimeoutMs < 1)
    ctx.addIssue({ code: 'custom', path: ['requestTimeoutMs'], message: 'must be positive' });
}
