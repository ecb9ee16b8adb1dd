import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cohort, cohortFraction, inShare, releaseId } from '../../src/rollout/lottery.js';

const key = (i: number): string => Buffer.alloc(32, i).toString('hex');

describe('the lottery', () => {
  it('is a pure function of release, salt and agent key', () => {
    const salt = Buffer.alloc(32, 7);
    const id = releaseId('acme', 'acme-agent', '2.4.1');
    expect(id).toBe('acme/acme-agent@2.4.1');
    expect(cohort(id, salt, key(1))).toBe(cohort(id, salt, key(1)));
    expect(cohort(id, salt, key(1))).not.toBe(cohort(id, salt, key(2)));
    expect(cohort(id, salt, key(1))).not.toBe(cohort(id, Buffer.alloc(32, 8), key(1)));
    expect(cohort(id, salt, key(1))).not.toBe(cohort('acme/acme-agent@2.4.2', salt, key(1)));
  });

  it('compares in integers: exactly the share, at the edges too', () => {
    expect(inShare(0n, 1)).toBe(true);
    expect(inShare((1n << 64n) - 1n, 10_000)).toBe(true);
    expect(inShare((1n << 64n) - 1n, 9_999)).toBe(false);
    // 1 % of 2^64 is 184467440737095516.16: the largest cohort in is that, rounded down.
    expect(inShare(184467440737095516n, 100)).toBe(true);
    expect(inShare(184467440737095517n, 100)).toBe(false);
    expect(cohortFraction(1n << 63n)).toBe(0.5);
  });

  it('a fresh salt draws a fresh cohort: the same agents are not last every release', () => {
    const agents = Array.from({ length: 2000 }, (_, i) =>
      createHash('sha256').update(`agent ${i}`).digest('hex'),
    );
    const id = releaseId('acme', 'p', '1.0.0');
    const first = new Set(agents.filter((a) => inShare(cohort(id, Buffer.alloc(32, 1), a), 1000)));
    const second = new Set(agents.filter((a) => inShare(cohort(id, Buffer.alloc(32, 2), a), 1000)));
    const both = [...first].filter((a) => second.has(a)).length;
    // About 10 % in each, about 1 % in both: independent draws, not the same early agents.
    expect(first.size).toBeGreaterThan(120);
    expect(first.size).toBeLessThan(280);
    expect(both).toBeLessThan(60);
  });
});
