import { createHash } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { FairpatchError } from '../errors.js';

/**
 * Buckets kept when a limit names no bound. The node's rateLimitMaxBuckets setting defaults to this:
 * the default lives here, below the servers, and their settings read it.
 */
export const DEFAULT_MAX_BUCKETS = 50_000;

export interface RateLimit {
  /** Requests per second, sustained. */
  perSecond: number;
  /** Requests allowed at once after a quiet period. */
  burst: number;
  /** Buckets kept at most (least recently used forgotten first); default DEFAULT_MAX_BUCKETS. */
  maxBuckets?: number;
}

/**
 * Token buckets in a bounded map, least recently used first (a Map iterates in insertion order, and
 * a bucket is re-inserted at each use). Keys are SHA-256 digests of what identifies the client, so an
 * 8 KB Authorization header costs 22 characters, never 8 KB.
 *
 * A bucket idle long enough to have refilled is the same as no bucket: those are forgotten as the
 * oldest end of the map is passed, which loses nothing. Past `maxBuckets` (a flood of distinct keys
 * within one refill period), the least recently used are forgotten anyway: memory stays bounded, and
 * the keys forgotten start again from a full bucket.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly maxBuckets: number;
  private readonly refillMs: number;

  constructor(private readonly limit: RateLimit) {
    this.maxBuckets = Math.max(1, limit.maxBuckets ?? DEFAULT_MAX_BUCKETS);
    this.refillMs = (limit.burst / limit.perSecond) * 1000;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** The stored keys (digests), oldest first. */
  keys(): string[] {
    return [...this.buckets.keys()];
  }

  /** Takes one token for `key` at time `t`: 0 when allowed, otherwise the seconds to wait. */
  take(key: string, t: number): number {
    const k = createHash('sha256').update(key).digest('base64url').slice(0, 22);
    const found = this.buckets.get(k);
    const b = found ?? { tokens: this.limit.burst, at: t };
    b.tokens = Math.min(
      this.limit.burst,
      b.tokens + (Math.max(0, t - b.at) / 1000) * this.limit.perSecond,
    );
    b.at = t;
    if (found) this.buckets.delete(k);
    this.buckets.set(k, b);
    this.sweep(t);
    if (b.tokens < 1) return Math.max(1, Math.ceil((1 - b.tokens) / this.limit.perSecond));
    b.tokens -= 1;
    return 0;
  }

  private sweep(t: number): void {
    for (const [k, b] of this.buckets) {
      if (this.buckets.size > this.maxBuckets || t - b.at >= this.refillMs) this.buckets.delete(k);
      else break;
    }
  }
}

export interface RateLimiter {
  middleware: MiddlewareHandler;
  buckets: TokenBuckets;
  /** Requests refused so far (metrics). */
  readonly refusals: number;
}

/**
 * A token-bucket limit keyed by `key(c)` (an address, a token): over the limit is 429 RATE_LIMITED
 * with Retry-After. The clock is injected.
 */
export function rateLimit(
  limit: RateLimit,
  key: (c: Context) => string,
  now: () => number,
): RateLimiter {
  const buckets = new TokenBuckets(limit);
  let refusals = 0;
  const middleware: MiddlewareHandler = async (c, next) => {
    const retryAfterSeconds = buckets.take(key(c), now());
    if (retryAfterSeconds > 0) {
      refusals++;
      throw new FairpatchError('RATE_LIMITED', `more than ${limit.perSecond}/s from this client`, {
        details: { retryAfterSeconds },
      });
    }
    await next();
  };
  return {
    middleware,
    buckets,
    get refusals() {
      return refusals;
    },
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
