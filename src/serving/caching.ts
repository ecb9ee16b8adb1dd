import { createHash } from 'node:crypto';
import { type TickConfig, tickStart } from '../common/tick.js';

/**
 * HTTP caching of the TUF routes (RFC 9111), so that any cache may help and none may go stale.
 *
 * Versioned metadata (`N.role.json`) and hash-prefixed targets never change once served: TUF's
 * consistent snapshots name every file by its version or hash, so they are immutable (RFC 8246).
 */
export const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * Errors of these routes are never stored: a 404 before a release's tick would otherwise keep the
 * release from the clients behind a cache after the tick (RFC 9111 §5.2.2.5).
 */
export const NO_STORE = 'no-store';

/**
 * `timestamp.json` changes at every tick boundary, and a cache that serves it past the boundary
 * withholds whatever activates there from everyone behind it. Its freshness must end exactly at
 * the tick's end, yet HTTP's lifetimes count whole seconds (RFC 9111 §1.2.2) and a tick is 1 s, so
 * the only honest relative lifetime is 0:
 *
 * - `max-age=0, s-maxage=0`: fresh for no time; a cache may store it and revalidate with the
 *   ETag (RFC 9111 §4.3), which saves the body but never serves a past tick. They also override
 *   `Expires` (RFC 9111 §5.3), which matters because some caches compare an absolute expiry
 *   inclusively, to the second, and would serve the document for up to a second after the tick.
 * - `must-revalidate`: a cache that cannot reach the origin must answer an error rather than a
 *   stale timestamp (RFC 9111 §5.2.2.2) — a stale timestamp still verifies for the client
 *   (its TUF expiry is minutes away) and would hide the release silently.
 * - `Expires` at the tick's end, rounded down to the second, for HTTP/1.0 caches that only read it.
 * - `X-Accel-Expires: @S` (nginx and its derivatives, stripped before the response leaves the
 *   cache): an absolute expiry in whole seconds that nginx treats as fresh while its clock's
 *   second is at most S, i.e. until (S + 1) s. S + 1 is the tick's end rounded down, so an nginx
 *   cache serves each tick's document to every poll of that tick and never after it. This is
 *   what lets a cache absorb the polls; everything standard above keeps other caches correct.
 */
export function timestampHeaders(cfg: TickConfig, k: number): Record<string, string> {
  const endSecond = Math.floor(tickStart(cfg, k + 1) / 1000);
  // First: nginx 1.22 (Debian 12's) reads these headers in the order received, and once it has
  // read `max-age=0` it no longer honours an X-Accel-Expires that follows.
  return {
    // A tick not aligned to seconds may end its last whole second before it starts: then nothing.
    // (A poll after that second but before the tick's end gets an expiry in the past: not reused.)
    'X-Accel-Expires': endSecond * 1000 > tickStart(cfg, k) ? `@${endSecond - 1}` : '0',
    'Cache-Control': 'public, max-age=0, s-maxage=0, must-revalidate',
    Expires: new Date(endSecond * 1000).toUTCString(),
  };
}

const etags = new WeakMap<Buffer, string>();

/**
 * A strong validator (RFC 9110 §8.8.3) for bytes the server keeps in memory: the first 128 bits of
 * their SHA-256. Memoized per buffer, and the view memoizes its buffers, so a poll hashes nothing.
 */
export function etagOf(bytes: Buffer): string {
  let tag = etags.get(bytes);
  if (!tag) {
    tag = `"${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}"`;
    etags.set(bytes, tag);
  }
  return tag;
}

/** True when If-None-Match names `etag` or is `*` (weak comparison, RFC 9110 §13.1.2). */
export function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const bare = (tag: string) => tag.trim().replace(/^W\//, '');
  const wanted = bare(etag);
  return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || bare(tag) === wanted);
}

/**
 * Headers of a 304 (RFC 9110 §15.4.5): the ones a 200 would carry that caches update from, no body
 * description.
 */
export function notModifiedHeaders(headers: Record<string, string>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of ['X-Accel-Expires', 'Cache-Control', 'ETag', 'Expires', 'Vary'])
    if (headers[name] !== undefined) kept[name] = headers[name];
  return kept;
}
