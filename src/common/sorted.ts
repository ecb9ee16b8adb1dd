/** How many of `sorted` (ascending) are at most `k`: a binary search, for ticks and versions. */
export function countAtMost(sorted: readonly number[], k: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] ?? Infinity) <= k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
