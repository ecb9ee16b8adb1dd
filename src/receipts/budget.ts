import type { SignedObservation } from '../common/observation.js';
import { FairpatchError } from '../errors.js';

/**
 * Whether an agent key is vouched for in a group (an owner certified it, or it is pinned): the
 * enrollment machinery (src/common/enrollment.ts) supplies it. A key costs nothing, so an unvouched
 * key earns no budget of its own beyond a small share of one common pool.
 */
export type Vouched = (agentKeyHex: string, group: string) => boolean;

/** The default: nothing is vouched, so every key draws on the unvouched pool. */
export const NOTHING_VOUCHED: Vouched = () => false;

const MINUTE_MS = 60_000;

/** 429 RATE_LIMITED with the seconds left in this minute as Retry-After. */
function refuse(t: number, message: string): FairpatchError {
  return new FairpatchError('RATE_LIMITED', message, {
    details: { retryAfterSeconds: 60 - Math.floor((t % MINUTE_MS) / 1000) },
  });
}

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
    private readonly what = 'observations',
  ) {}

  /** Refuses (429) if any key would pass its budget; charges nothing. */
  check(counts: ReadonlyMap<string, number>): void {
    const t = this.now();
    const minute = Math.floor(t / MINUTE_MS);
    for (const [agent, n] of counts) {
      const entry = this.used.get(agent);
      const spent = entry?.minute === minute ? entry.count : 0;
      if (spent + n > this.perMinute)
        throw refuse(
          t,
          `agent ${agent.slice(0, 16)}… sent more than ${this.perMinute} ${this.what} this minute`,
        );
    }
  }

  /** Charges what `check` allowed. */
  commit(counts: ReadonlyMap<string, number>): void {
    const minute = Math.floor(this.now() / MINUTE_MS);
    if (this.used.size > this.maxKeys) this.used.clear();
    for (const [agent, n] of counts) {
      const entry = this.used.get(agent);
      this.used.set(agent, { minute, count: (entry?.minute === minute ? entry.count : 0) + n });
    }
  }

  /** Charges `counts` (per agent key) or refuses them all (429 with Retry-After): no half-charged batch. */
  charge(counts: ReadonlyMap<string, number>): void {
    this.check(counts);
    this.commit(counts);
  }
}

/** One pool shared by every client, refilled each minute: a fixed amount, whoever asks. */
export class MinuteBudget {
  private minute = -1;
  private spent = 0;

  constructor(
    readonly perMinute: number,
    private readonly now: () => number,
    private readonly what: string,
  ) {}

  private roll(): void {
    const minute = Math.floor(this.now() / MINUTE_MS);
    if (minute !== this.minute) {
      this.minute = minute;
      this.spent = 0;
    }
  }

  /** Refuses (429) if `amount` does not fit in what is left this minute; charges nothing. */
  check(amount: number): void {
    this.roll();
    if (amount > 0 && this.spent + amount > this.perMinute)
      throw refuse(
        this.now(),
        `more than ${this.perMinute} ${this.what} this minute, from all clients`,
      );
  }

  commit(amount: number): void {
    this.roll();
    this.spent += amount;
  }
}

/** A receipt intake's limits: the node's and the witness's settings of the same names. */
export interface IntakeLimits {
  /** Observations one key may add per minute (vouched or not). */
  perKeyPerMinute: number;
  /** Keys whose per-minute count is remembered at once. */
  maxKeys: number;
  /** Observations all unvouched keys together may add per minute. */
  unvouchedPerMinute: number;
}

/**
 * What one batch of receipts may cost: each key its own per-minute budget, unvouched keys also the
 * one small pool they share, and the bytes it adds the intake's byte budget (shared with whatever
 * else clients write). Every budget is checked before any is charged: a refused batch costs nothing
 * and writes nothing.
 */
export class IntakeBudget {
  private readonly perKey: PerKeyBudget;
  private readonly unvouched: MinuteBudget;

  constructor(
    limits: IntakeLimits,
    now: () => number,
    private readonly vouched: Vouched = NOTHING_VOUCHED,
    /** What clients may add to the log (and the database) per minute, in bytes; shared by intakes. */
    readonly bytes?: MinuteBudget,
    what = 'observations',
  ) {
    this.perKey = new PerKeyBudget(limits.perKeyPerMinute, now, limits.maxKeys, what);
    this.unvouched = new MinuteBudget(
      limits.unvouchedPerMinute,
      now,
      `${what} by agent keys no owner vouches for`,
    );
  }

  /**
   * Charges one item per signer (a receipt's or a report's agent key and group) and `bytes`, or
   * refuses (429, Retry-After) having charged nothing.
   */
  charge(signers: ReadonlyArray<{ agent: string; group: string }>, bytes = 0): void {
    const perKey = new Map<string, number>();
    let unvouched = 0;
    for (const { agent, group } of signers) {
      perKey.set(agent, (perKey.get(agent) ?? 0) + 1);
      if (!this.vouched(agent, group)) unvouched++;
    }
    this.perKey.check(perKey);
    this.unvouched.check(unvouched);
    this.bytes?.check(bytes);
    this.perKey.commit(perKey);
    this.unvouched.commit(unvouched);
    this.bytes?.commit(bytes);
  }
}

/** Observations per agent key: what a batch charges each key's budget. */
export function counts(receipts: readonly SignedObservation[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of receipts) out.set(r.observation.agent, (out.get(r.observation.agent) ?? 0) + 1);
  return out;
}
