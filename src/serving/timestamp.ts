import type { ServedRepository } from './served-repository.js';
import { tickStart } from '../common/tick.js';
import { etagOf, timestampHeaders } from './caching.js';

export interface RenderedPoll {
  bytes: Buffer;
  headers: Record<string, string>;
}

const rendered = new WeakMap<ServedRepository, RenderedPoll>();

/**
 * The node's own side of a switch: when it first served a tick's document, by its own clock, and
 * whether the bytes were waiting (pre-rendered) or signed on the poll. What a client observes adds
 * its own round trip and scheduling to this.
 */
export interface SwitchRecord {
  tick: number;
  /** The last poll served the previous document, ms relative to the tick's start (negative: before). */
  lastPreviousServedMs: number;
  firstServedAfterTickMs: number;
  prerendered: boolean;
  /**
   * The same first poll by this machine's own clock (high resolution, no correction against the
   * database's): when the switch really happened, relative to the tick's start. The tick clock above
   * may be held back a little so that it never runs ahead of the database's.
   */
  firstServedWallMs: number;
  /**
   * The last poll served the previous document, by the same clock: the switch happened between this
   * and `firstServedWallMs`, so a positive value is how long the node kept the old statement after
   * the tick began (its hold-back, plus any poll read before the boundary and answered after it).
   */
  lastPreviousServedWallMs: number;
}

/** How many recent ticks' switches a process keeps (for `/healthz?switches`). */
export const SWITCH_HISTORY = 120;

const switches = new WeakMap<
  ServedRepository,
  {
    last?: SwitchRecord;
    lastActivation?: SwitchRecord;
    lastServedAt: number;
    lastServedWall: number;
    recent: SwitchRecord[];
  }
>();

/** The last tick served and the last activation tick served, as this process saw them. */
export function switchRecords(repo: ServedRepository): {
  last?: SwitchRecord;
  lastActivation?: SwitchRecord;
  /** The last SWITCH_HISTORY ticks' records, oldest first. */
  recent: SwitchRecord[];
} {
  return switches.get(repo) ?? { recent: [] };
}

/**
 * timestamp.json of tick k with every header it is sent with, built once per rendered document
 * (the view memoizes the bytes): both the fast poll path and the Hono route send exactly these.
 * The headers stay in this order on the wire (see timestampHeaders).
 */
export function timestampDocument(repo: ServedRepository, k: number): RenderedPoll {
  const prerendered = repo.view.hasTimestamp(k);
  const bytes = repo.view.timestampAt(k);
  const now = repo.clock.now();
  const wall = performance.timeOrigin + performance.now();
  let seen = switches.get(repo);
  if (!seen) {
    seen = { lastServedAt: Number.NaN, lastServedWall: Number.NaN, recent: [] };
    switches.set(repo, seen);
  }
  let poll = rendered.get(repo);
  if (poll?.bytes !== bytes) {
    // Once per document: the bracket [last poll of the previous document, first of this one].
    const start = tickStart(repo.config, k);
    const record = {
      tick: k,
      lastPreviousServedMs: seen.lastServedAt - start,
      firstServedAfterTickMs: now - start,
      prerendered,
      firstServedWallMs: wall - start,
      lastPreviousServedWallMs: seen.lastServedWall - start,
    };
    seen.last = record;
    seen.recent.push(record);
    if (seen.recent.length > SWITCH_HISTORY) seen.recent.shift();
    if (repo.view.activatesAt(k)) seen.lastActivation = record;
    poll = {
      bytes,
      headers: {
        ...timestampHeaders(repo.config, k),
        'Content-Type': 'application/json',
        ETag: etagOf(bytes),
        'Content-Length': String(bytes.length),
      },
    };
    rendered.set(repo, poll);
  }
  seen.lastServedAt = now;
  seen.lastServedWall = wall;
  return poll;
}
