import { describe, expect, it } from 'vitest';
import { ClockOffset, correctedClock, sampleOffset } from '../../src/serving/clock-offset.js';
import { ManualClock } from '../helpers/clock.js';

describe('clock offset against the database', () => {
  it('estimates from the midpoint of the round trip and trusts the shortest round trip most', () => {
    expect(sampleOffset(1000, 900, 1010)).toEqual({ offsetMs: -105, rttMs: 10, at: 1010 });
    const offset = new ClockOffset();
    offset.add(sampleOffset(0, 500, 400)); // slow reading: +300 ± 200
    offset.add(sampleOffset(1000, 1052, 1004)); // fast reading: +50 ± 2
    expect(offset.best?.offsetMs).toBe(50);
    expect(offset.skewed(100)).toBe(false);
    expect(offset.skewed(40)).toBe(true);
  });

  it('moves a clock that runs ahead back, never one that runs behind forward, and never runs backwards', () => {
    const base = new ManualClock(10_000);
    const offset = new ClockOffset();
    const clock = correctedClock(base, offset);
    expect(clock.now()).toBe(10_000); // nothing measured yet
    offset.add(sampleOffset(10_000, 10_500, 10_000)); // behind by 500
    expect(clock.now()).toBe(10_000);
    offset.add(sampleOffset(10_000, 9_200, 10_000)); // ahead by 800 (rtt 0: the better reading)
    offset.add(sampleOffset(10_000, 9_200, 10_000));
    expect(clock.now()).toBe(10_000); // would be 9_200: held, time never runs backwards
    base.advance(1_000);
    expect(clock.now()).toBe(10_200);
  });
});
