import type { LeafOf } from '../../log/leaves.js';

/**
 * What the nodes' roll-ups come to, folded leaf by leaf. A node logs one every window, so they are
 * most of a long log; the verdict needs only these sums and extremes of them, which stay as large
 * as the nodes, groups and versions are many, however long the log grows:
 *  - polls per group (the report's figures);
 *  - push fan-outs per group and tick (how each group was told of an activation);
 *  - per node, group and snapshot version, the last tick served, and the leaf that says so: a node
 *    that admits serving a version after a later one activated is convicted by its latest such
 *    admission (`rollupAdmissions`);
 *  - per snapshot version, the first tick any roll-up says it was served (from the tick the log
 *    logs changes on), and the leaf: a version served before the log explains it is convicted by
 *    its earliest serving (`servedChanges`; the versions the log explains grow with the tick).
 */
export interface RollupDigest {
  polls: Map<string, number>;
  notifications: Map<string, Notification>;
  lastServed: Map<string, Served>;
  firstServed: Map<number, { tick: number; leaf: number }>;
  /** The tick the log logs changes from (its `changes.logged` leaf), once folded. */
  changesFrom: number | undefined;
}

export interface Notification {
  group: string;
  tick: number;
  connections: number;
  fanoutUs: number;
  /** The first roll-up that reported it. */
  leaf: number;
}

export interface Served {
  node: string;
  group: string;
  version: number;
  lastTick: number;
  leaf: number;
}

export const emptyRollupDigest = (): RollupDigest => ({
  polls: new Map(),
  notifications: new Map(),
  lastServed: new Map(),
  firstServed: new Map(),
  changesFrom: undefined,
});

export function foldRollup(
  digest: RollupDigest,
  index: number,
  leaf: LeafOf<'delivery.rollup'>,
): void {
  for (const group in leaf.groups) {
    const counts = leaf.groups[group]!;
    digest.polls.set(group, (digest.polls.get(group) ?? 0) + counts.polls);
    for (const tick in counts.notifications ?? {}) {
      const pushed = counts.notifications![tick]!;
      const key = `${group}\n${tick}`;
      const had = digest.notifications.get(key);
      digest.notifications.set(key, {
        group,
        tick: Number(tick),
        connections: (had?.connections ?? 0) + pushed.connections,
        fanoutUs: Math.max(had?.fanoutUs ?? 0, pushed.fanout_us),
        leaf: had?.leaf ?? index,
      });
    }
    for (const v in counts.versions) {
      const { first_tick: first, last_tick: last } = counts.versions[v]!;
      const key = `${leaf.node}\n${group}\n${v}`;
      const had = digest.lastServed.get(key);
      if (!had || last > had.lastTick)
        digest.lastServed.set(key, {
          node: leaf.node,
          group,
          version: Number(v),
          lastTick: last,
          leaf: index,
        });
      if (digest.changesFrom !== undefined && first < digest.changesFrom) continue;
      const earliest = digest.firstServed.get(Number(v));
      if (!earliest || first < earliest.tick)
        digest.firstServed.set(Number(v), { tick: first, leaf: index });
    }
  }
}

/**
 * The log logs changes from tick `from` on (its first `changes.logged` leaf): servings before it are
 * never judged, so they must not stand in for the first serving from it. Roll-ups logged before the
 * leaf are about ticks before it (a node logs a window after it ends), so none from it is lost.
 */
export function changesLogged(digest: RollupDigest, from: number): void {
  if (digest.changesFrom !== undefined) return;
  digest.changesFrom = from;
  for (const [version, first] of digest.firstServed)
    if (first.tick < from) digest.firstServed.delete(version);
}
