import type { DeliveryCounter } from './accounting.js';
import type { ServedRepository } from './served-repository.js';

/**
 * The checks and the counting every poll of `timestamp.json` goes through, whichever path answers
 * it (the socket reader, the node:http fast path or the Hono route): one definition, so that the
 * paths cannot drift apart in what they refuse or count.
 */

/** The state's age and the bound it passed, when it is too old to serve; undefined while fresh. */
export function staleState(
  repo: ServedRepository,
  maxStateAgeMs: number,
): { state_age_ms: number; max_state_age_ms: number } | undefined {
  const age = repo.stateAge();
  return age > maxStateAgeMs ? { state_age_ms: age, max_state_age_ms: maxStateAgeMs } : undefined;
}

export interface PollCounting {
  repo: ServedRepository;
  counter: DeliveryCounter;
  /** Told of each timestamp poll served, by group (metrics). */
  onPoll?: (group: string) => void;
}

/** Counts one poll of tick k's timestamp under `group`, once its document is rendered. */
export function countPoll(deps: PollCounting, group: string, k: number): void {
  deps.counter.count(group, k, deps.repo.view.snapshotVersionAt(k));
  deps.onPoll?.(group);
}
