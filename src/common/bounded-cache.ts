/**
 * A map that keeps about the `limit` most recently used entries, in two generations: when the young
 * one fills, the old one is dropped whole and the young one takes its place; a hit in the old one
 * moves the entry back to the young one. Every operation is O(1). Deleting a Map's oldest key one at
 * a time is not: V8 leaves deleted entries as holes that each `keys()` walk from the start skips
 * over, so a full cache evicting on every miss slowed a growing witness log threefold.
 */
export class BoundedCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();

  constructor(private readonly limit: number) {}

  get(key: K): V | undefined {
    const value = this.young.get(key);
    if (value !== undefined) return value;
    const older = this.old.get(key);
    if (older !== undefined) this.set(key, older);
    return older;
  }

  set(key: K, value: V): void {
    if (this.young.size >= Math.ceil(this.limit / 2)) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  /** Entries held now (between half the limit and the limit once full). */
  get size(): number {
    return this.young.size + this.old.size;
  }
}
