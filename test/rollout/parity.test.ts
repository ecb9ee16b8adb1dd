import { describe, expect, it } from 'vitest';
import { groupParity } from '../../src/rollout/parity.js';

describe('binomial parity bounds', () => {
  it('40 agents at 10 %: 4 expected, σ ≈ 1.9, so 0 to 11 eligible is within 4σ', () => {
    const at = (k: number) => groupParity(40, k, 1000);
    expect(at(4)).toMatchObject({ expected: 4, within: true, deviation: 0 });
    expect(at(4).sigma).toBeCloseTo(1.897, 3);
    expect(at(0).within).toBe(true);
    expect(at(11).within).toBe(true);
    expect(at(12).within).toBe(false);
    expect(at(12).deviation).toBeCloseTo(4.22, 2);
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
