import type { SignedObservation } from '../common/observation.js';
import { FairpatchError } from '../errors.js';

/**
 * Observations one agent key may add per minute. The per-address limit alone is not enough: one
 * address may front a whole fleet (a NAT), and one key may hop addresses; a key is who signs.
 */
export class PerKeyBudget {
  private readonly used = new Map<string, { minute: number; count: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number,
    private readonly maxKeys = 100_000,
  ) {}

  /** Charges `counts` (per agent key) or refuses them all (429 with Retry-After): no half-charged batch. */
  charge(counts: ReadonlyMap<string, number>): void {
    const t = this.now();
    const minute = Math.floor(t / 60_000);
    for (const [agent, n] of counts) {
      const entry = this.used.get(agent);
      const spent = entry?.minute === minute ? entry.count : 0;
      if (spent + n > this.perMinute) {
        throw new FairpatchError(
          'RATE_LIMITED',
          `agent ${agent.slice(0, 16)}… sent more than ${this.perMinute} observations this minute`,
          {
            details: { retryAfterSeconds: 60 - Math.floor((t % 60_000) / 1000) },
          },
        );
      }
    }
    if (this.used.size > this.maxKeys) this.used.clear();
    for (const [agent, n] of counts) {
      const entry = this.used.get(agent);
      this.used.set(agent, { minute, count: (entry?.minute === minute ? entry.count : 0) + n });
    }
  }
}

/** Observations per agent key: what a batch charges each key's budget. */
export function counts(receipts: readonly SignedObservation[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of receipts) out.set(r.observation.agent, (out.get(r.observation.agent) ?? 0) + 1);
  return out;
}
