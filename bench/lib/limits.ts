/**
 * Rate limits out of the way: functional tests and benchmarks send bursts from one address on a
 * clock that stands still; the limits are tested on their own (test/http/access.test.ts).
 */
export const NO_RATE_LIMITS = {
  publisherPerTokenPerSecond: 1e9,
  publisherPerTokenBurst: 1e9,
  publisherPerAddressPerSecond: 1e9,
  publisherPerAddressBurst: 1e9,
  agentPerAddressPerSecond: 1e9,
  agentPerAddressBurst: 1e9,
  unvouchedReceiptsPerMinute: 1e9,
  clientBytesPerMinute: 1e12,
};
