import { describe, expect, it } from 'vitest';
import { binomialTail, groupParity } from '../../src/rollout/parity.js';

describe('binomial parity bounds', () => {
  it('40 agents at 10 %: 4 expected, σ ≈ 1.9; the bound is as likely as 4σ on the exact binomial tail', () => {
    const at = (k: number) => groupParity(40, k, 1000);
    expect(at(4)).toMatchObject({ expected: 4, within: true, deviation: 0 });
    expect(at(4).sigma).toBeCloseTo(1.897, 3);
    expect(at(0).within).toBe(true);
    // 12 is 4.2σ out, but P(X ≥ 12) = 3.8e-4: the upper tail is heavy at small shares. Honest.
    expect(at(12).deviation).toBeCloseTo(4.22, 2);
    expect(at(12).within).toBe(true);
    expect(at(13).within).toBe(true);
    // P(X ≥ 14) = 1.8e-5, below a normal variable's 4σ tail (3.2e-5 a side): not by chance.
    expect(at(14).within).toBe(false);
  });

  it('the exact tail agrees with the binomial sums', () => {
    expect(binomialTail(40, 0.1, 12, true)).toBeCloseTo(3.8083e-4, 7);
    expect(binomialTail(40, 0.1, 14, true)).toBeCloseTo(1.8475e-5, 8);
    expect(binomialTail(40, 0.5, 7, false)).toBeCloseTo(2.114e-5, 7);
    // Large groups: the normal's 4σ and the exact bound meet.
    const big = groupParity(1_000_000, 100_000 + 1300, 1000);
    expect(big.within).toBe(false);
    expect(groupParity(1_000_000, 100_000 + 1100, 1000).within).toBe(true);
  });

  it('at 100 % every agent is eligible: one short is outside the bounds', () => {
    expect(groupParity(40, 40, 10000)).toMatchObject({ within: true, sigma: 0, deviation: 0 });
    expect(groupParity(40, 39, 10000)).toMatchObject({ within: false, deviation: -Infinity });
  });

  it('a count beyond the group is never within', () => {
    expect(groupParity(3, 4, 5000).within).toBe(false);
    expect(groupParity(0, 0, 5000).within).toBe(true);
  });
});
