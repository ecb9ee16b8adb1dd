import { FULL_BP } from '../common/rollout-plan.js';

// Parity of a stage across groups: with an unsteerable salt, each of a group's n agents is eligible
// with probability p (the stage's share) independently of its group, so a group's eligible count is
// Binomial(n, p). A count more than 4σ from n·p happens by chance about once in 16,000 groups and
// stages; anything further says the lottery was not blind to the group (a ground salt, keys chosen
// after the salt) or the counting was not honest.

export const PARITY_SIGMAS = 4;

export interface GroupParity {
  agents: number;
  eligible: number;
  expected: number;
  sigma: number;
  /** (eligible − expected) / σ; 0 when σ is 0 and the count is exact. */
  deviation: number;
  within: boolean;
}

export function groupParity(agents: number, eligible: number, percentBp: number): GroupParity {
  const p = percentBp / FULL_BP;
  const expected = agents * p;
  const sigma = Math.sqrt(agents * p * (1 - p));
  const off = eligible - expected;
  const deviation = sigma > 0 ? off / sigma : off === 0 ? 0 : Math.sign(off) * Infinity;
  // At σ = 0 (0 % or 100 %) the count must be exact; otherwise within 4σ, and never beyond [0, n].
  const within =
    eligible >= 0 && eligible <= agents && Math.abs(off) <= PARITY_SIGMAS * sigma + 1e-9;
  return { agents, eligible, expected, sigma, deviation, within };
}
