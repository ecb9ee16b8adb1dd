import { FULL_BP } from '../common/rollout-plan.js';

// Parity of a stage across groups: with an unsteerable salt, each of a group's n agents is eligible
// with probability p (the stage's share) independently of its group, so a group's eligible count is
// Binomial(n, p). The audit's bound is "within 4σ": a count as unlikely as one 4σ out in a normal
// distribution (two-sided, 6.3 in 100,000) says the lottery was not blind to the group (a ground
// salt, keys chosen after the salt) or the counting was not honest. At small shares the binomial's
// upper tail is much heavier than the normal's, so the bound is taken on the exact binomial tail:
// the normal 4σ line alone would call an honest group of 40 agents unfair about once in 130 stages
// at 1 % (3 eligible is 4.1σ out), and 4 times in 10,000 at 10 %.

export const PARITY_SIGMAS = 4;
/** Two-sided tail probability of a normal variable beyond 4σ. */
export const PARITY_TAIL = 6.334e-5;

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
  const possible = Number.isInteger(eligible) && eligible >= 0 && eligible <= agents;
  // At σ = 0 (0 % or 100 %) the count must be exact; otherwise as likely as 4σ or more.
  const within =
    possible &&
    (sigma === 0
      ? off === 0
      : Math.abs(off) <= PARITY_SIGMAS * sigma + 1e-9 ||
        2 * binomialTail(agents, p, eligible, off > 0) >= PARITY_TAIL);
  return { agents, eligible, expected, sigma, deviation, within };
}

/** P(X ≥ k) (upper) or P(X ≤ k) for X ~ Binomial(n, p), summed in log space from k outwards. */
export function binomialTail(n: number, p: number, k: number, upper: boolean): number {
  const logP = Math.log(p);
  const logQ = Math.log(1 - p);
  let logTerm = logChoose(n, k) + k * logP + (n - k) * logQ;
  let sum = 0;
  for (let i = k; upper ? i <= n : i >= 0; i += upper ? 1 : -1) {
    const term = Math.exp(logTerm);
    sum += term;
    if (term < sum * 1e-17) break;
    // The next term from this one: a ratio, so no factorial is recomputed.
    logTerm += upper
      ? Math.log((n - i) / (i + 1)) + logP - logQ
      : Math.log(i / (n - i + 1)) + logQ - logP;
  }
  return Math.min(1, sum);
}

function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/** ln Γ(x) for x ≥ 1 (Lanczos, g = 7): ample for tail probabilities. */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
    -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
    1.5056327351493116e-7,
  ];
  const z = x - 1;
  let a = c[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}
