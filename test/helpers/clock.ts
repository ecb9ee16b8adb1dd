import type { Clock } from '../../src/common/clock.js';

/** A clock tests move by hand: no sleeping, no jitter. */
export class ManualClock implements Clock {
  constructor(private ms: number) {}
  now(): number {
    return this.ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}
