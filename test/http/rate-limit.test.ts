import { describe, expect, it } from 'vitest';
import { TokenBuckets } from '../../src/http/rate-limit.js';
import {
  normalizeAddress,
  parseTrustProxy,
  resolveClientAddress,
  type TrustProxy,
} from '../../src/http/client-address.js';

describe('token buckets', () => {
  it('keep at most maxBuckets, keyed by a short digest: 10,000 distinct 8 KB keys never stay in memory', () => {
    const buckets = new TokenBuckets({ perSecond: 1, burst: 5, maxBuckets: 100 });
    for (let i = 0; i < 10_000; i++)
      buckets.take(`Bearer ${String(i).padStart(8, '0')}${'x'.repeat(8192)}`, 1000);
    expect(buckets.size).toBe(100);
    for (const key of buckets.keys()) expect(key).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('forget a bucket once it has been idle long enough to refill (it would be a full bucket anyway)', () => {
    const buckets = new TokenBuckets({ perSecond: 2, burst: 4 });
    for (let i = 0; i < 4; i++) expect(buckets.take('a', 0)).toBe(0);
    expect(buckets.take('a', 0)).toBeGreaterThan(0);
    buckets.take('b', 1000);
    expect(buckets.size).toBe(2);
    // 'a' refills in burst / perSecond = 2 s: after that it is forgotten as the oldest entry is passed.
    buckets.take('c', 2001);
    expect(buckets.size).toBe(2);
    expect(buckets.take('a', 2001)).toBe(0);
  });

  it('still limit a client that keeps asking while others churn through the map', () => {
    const buckets = new TokenBuckets({ perSecond: 1, burst: 2, maxBuckets: 10 });
    let refused = 0;
    for (let i = 0; i < 200; i++) {
      if (buckets.take('steady', 0) > 0) refused++;
      for (let j = 0; j < 5; j++) buckets.take(`churn-${i}-${j}`, 0);
    }
    // Used at every round, 'steady' is never the least recently used: it gets its burst, then refusals.
    expect(refused).toBe(198);
  });
});

describe('client address behind proxies (X-Forwarded-For)', () => {
  const trust = (text: string): TrustProxy => {
    const parsed = parseTrustProxy(text);
    if (typeof parsed === 'string') throw new Error(parsed);
    return parsed;
  };

  it('ignores X-Forwarded-For unless the socket peer is a trusted proxy', () => {
    expect(resolveClientAddress(trust('none'), '203.0.113.9', '198.51.100.1')).toBe('203.0.113.9');
    expect(resolveClientAddress(trust('10.0.0.0/8'), '203.0.113.9', '198.51.100.1')).toBe(
      '203.0.113.9',
    );
    expect(resolveClientAddress(trust('10.0.0.0/8'), '10.1.2.3', '198.51.100.1')).toBe(
      '198.51.100.1',
    );
  });

  it('walks right to left past trusted proxies only: what a client wrote itself on the left is not believed', () => {
    const t = trust('10.0.0.0/8, 192.168.0.7');
    expect(resolveClientAddress(t, '10.0.0.1', '1.1.1.1, 198.51.100.1, 192.168.0.7')).toBe(
      '198.51.100.1',
    );
    expect(resolveClientAddress(t, '10.0.0.1', '10.9.9.9, 10.0.0.2')).toBe('10.9.9.9');
    // A malformed entry ends the walk: the last believed proxy answers for the request.
    expect(resolveClientAddress(t, '10.0.0.1', 'evil, 10.0.0.2')).toBe('10.0.0.2');
    expect(resolveClientAddress(t, '10.0.0.1', '')).toBe('10.0.0.1');
  });

  it('counts hops from the right when given a number', () => {
    expect(resolveClientAddress(trust('1'), '203.0.113.9', '1.1.1.1, 198.51.100.1')).toBe(
      '198.51.100.1',
    );
    expect(resolveClientAddress(trust('2'), '203.0.113.9', '1.1.1.1, 198.51.100.1')).toBe(
      '1.1.1.1',
    );
    expect(resolveClientAddress(trust('3'), '203.0.113.9', '198.51.100.1')).toBe('198.51.100.1');
  });

  it('compares addresses in one form: IPv4-mapped IPv6, brackets and ports', () => {
    expect(normalizeAddress('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(normalizeAddress('[2001:DB8::1]:443')).toBe('2001:db8::1');
    expect(normalizeAddress('192.0.2.1:5000')).toBe('192.0.2.1');
    expect(normalizeAddress('not-an-ip')).toBeUndefined();
    expect(
      resolveClientAddress(trust('::1,127.0.0.0/8'), '::ffff:127.0.0.1', '[2001:db8::5]:1234'),
    ).toBe('2001:db8::5');
  });

  it('refuses settings that are not addresses, ranges or a hop count', () => {
    for (const bad of ['10.0.0.0/33', 'example.com', '0', '10.0.0.1/', '::1/129'])
      expect(typeof parseTrustProxy(bad)).toBe('string');
  });
});
