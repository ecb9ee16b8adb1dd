import type { Clock } from '../common/clock.js';

export interface OffsetSample {
  /** Reference clock minus this node's clock, in ms: negative when this node's clock is ahead. */
  offsetMs: number;
  /** The round trip the reading took: the offset is known to within half of it. */
  rttMs: number;
  /** When it was taken, on this node's clock. */
  at: number;
}

/** One reading of a reference clock between two readings of ours (NTP's on-wire estimate, RFC 5905, section 8). */
export function sampleOffset(
  sentAt: number,
  referenceMs: number,
  receivedAt: number,
): OffsetSample {
  return {
    offsetMs: referenceMs - (sentAt + receivedAt) / 2,
    rttMs: Math.max(0, receivedAt - sentAt),
    at: receivedAt,
  };
}

/**
 * This node's clock compared with the database's, from the last few readings: the one with the
 * shortest round trip is the most precise (as NTP's clock filter picks, RFC 5905, section 10); of
 * equally precise ones, the newest.
 */
export class ClockOffset {
  private samples: OffsetSample[] = [];

  constructor(private readonly keep = 8) {}

  add(sample: OffsetSample): void {
    this.samples = [...this.samples, sample].slice(-this.keep);
  }

  get best(): OffsetSample | undefined {
    return this.samples.reduce<OffsetSample | undefined>(
      (best, s) => (!best || s.rttMs <= best.rttMs ? s : best),
      undefined,
    );
  }

  /** True when this node's clock is known to differ from the database's by more than `maxMs`. */
  skewed(maxMs: number): boolean {
    const best = this.best;
    return best !== undefined && Math.abs(best.offsetMs) > maxMs;
  }

  /**
   * How much to take off this node's clock so that it is never ahead of the database's, given the
   * uncertainty of the reading: zero or negative. A node that is behind is not moved forward: it
   * may show a release a little late, never early.
   */
  correction(): number {
    const best = this.best;
    return best ? Math.min(0, best.offsetMs - best.rttMs / 2) : 0;
  }
}

/** `base` moved back by the offset's correction, and never running backwards when a new reading lands. */
export function correctedClock(base: Clock, offset: ClockOffset): Clock {
  let last = -Infinity;
  return {
    now() {
      last = Math.max(last, Math.round(base.now() + offset.correction()));
      return last;
    },
  };
}
