import type { Context, MiddlewareHandler } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import { FairpatchError } from '../errors.js';

export interface RateLimit {
  /** Requests per second, sustained. */
  perSecond: number;
  /** Requests allowed at once after a quiet period. */
  burst: number;
}

/** The client address, or one shared key when there is no socket (in-process requests). */
export function clientAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Token buckets keyed by `key(c)` (an address, a token hash): over the limit is 429 RATE_LIMITED with
 * Retry-After. The clock is injected; idle buckets are forgotten so the map stays small.
 */
export function rateLimit(limit: RateLimit, key: (c: Context) => string, now: () => number): MiddlewareHandler {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return async (c, next) => {
    const t = now();
    const k = key(c);
    const b = buckets.get(k) ?? { tokens: limit.burst, at: t };
    b.tokens = Math.min(limit.burst, b.tokens + ((t - b.at) / 1000) * limit.perSecond);
    b.at = t;
    if (b.tokens < 1) {
      buckets.set(k, b);
      const retryAfterSeconds = Math.max(1, Math.ceil((1 - b.tokens) / limit.perSecond));
      throw new FairpatchError('RATE_LIMITED', `more than ${limit.perSecond}/s from this client`, { details: { retryAfterSeconds } });
    }
    b.tokens -= 1;
    buckets.set(k, b);
    if (buckets.size > 50_000) for (const [name, v] of buckets) if (v.tokens >= limit.burst) buckets.delete(name);
    await next();
  };
}

export interface RateLimits {
  /** Publisher API, per token. */
  publisherPerToken: RateLimit;
  /** Publisher API, per address (before the token is checked). */
  publisherPerAddress: RateLimit;
  /** Receipts and install reports, per address. */
  agentPerAddress: RateLimit;
}

export const DEFAULT_RATE_LIMITS: RateLimits = {
  publisherPerToken: { perSecond: 10, burst: 60 },
  publisherPerAddress: { perSecond: 20, burst: 120 },
  agentPerAddress: { perSecond: 200, burst: 400 },
};
