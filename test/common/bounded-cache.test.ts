import { describe, expect, it } from 'vitest';
import { BoundedCache } from '../../src/common/bounded-cache.js';

describe('BoundedCache', () => {
  it('holds at most its limit, keeps what is used, and forgets what is not', () => {
    const cache = new BoundedCache<number, string>(100);
    for (let i = 0; i < 10_000; i++) {
      cache.set(i, `v${i}`);
      expect(cache.get(0)).toBe('v0'); // used all along: never evicted
      expect(cache.size).toBeLessThanOrEqual(100);
    }
    expect(cache.size).toBeGreaterThanOrEqual(50);
    expect(cache.get(9_999)).toBe('v9999');
    expect(cache.get(5_000)).toBeUndefined();
    expect(cache.get(1)).toBeUndefined();
  });
});
