import { BUCKETS } from '../common/names.js';

/**
 * Per-group poll accounting, in memory (a poll never writes synchronously). For each
 * group and snapshot version served: how many polls, and the first and last tick it was served.
 * The delivery roll-up drains it in batches.
 */
export interface ServedCounts {
  polls: number;
  firstTick: number;
  lastTick: number;
}

/** One push fan-out as seen by one group: connections notified and how long the whole fan-out took. */
export interface GroupNotification {
  connections: number;
  fanoutMs: number;
}

/** Group names come from clients: past this many in one roll-up window, polls count under OVERFLOW_GROUP. */
export const MAX_GROUPS_PER_WINDOW = 10_000;
export const OVERFLOW_GROUP = BUCKETS.overflow;
/** Polls without a group prefix (`/metadata/…`) are counted under this name. */
export const DEFAULT_GROUP = BUCKETS.ungrouped;
export const UNDECLARED_GROUP = BUCKETS.undeclared;

export class DeliveryCounter {
  private groups = new Map<string, Map<number, ServedCounts>>();
  private notifications = new Map<string, Map<number, GroupNotification>>();

  /** Records a fan-out at `tick`: rolled up into the log with the polls. */
  notified(tick: number, groups: ReadonlyMap<string, number>, fanoutMs: number): void {
    for (const [group, connections] of groups) {
      const byTick = this.notifications.get(group) ?? new Map();
      this.notifications.set(group, byTick);
      byTick.set(tick, { connections, fanoutMs });
    }
  }

  drainNotifications(): Map<string, Map<number, GroupNotification>> {
    const out = this.notifications;
    this.notifications = new Map();
    return out;
  }

  private declared: ReadonlySet<string> | undefined;

  /**
   * Once the operator has declared its groups, polls under any other name (group names come from
   * clients, who can invent thousands) are counted under one bucket.
   */
  declare(groups: Iterable<string>): void {
    this.declared = new Set(groups);
  }

  count(name: string, tick: number, snapshotVersion: number): void {
    const group = this.declared
      ? this.declared.has(name)
        ? name
        : UNDECLARED_GROUP
      : this.groups.has(name) || this.groups.size < MAX_GROUPS_PER_WINDOW
        ? name
        : OVERFLOW_GROUP;
    let byVersion = this.groups.get(group);
    if (!byVersion) {
      byVersion = new Map();
      this.groups.set(group, byVersion);
    }
    const entry = byVersion.get(snapshotVersion);
    if (entry) {
      entry.polls++;
      entry.lastTick = tick;
    } else byVersion.set(snapshotVersion, { polls: 1, firstTick: tick, lastTick: tick });
  }

  /** What has been counted since the last drain; the counter starts again from zero. */
  drain(): Map<string, Map<number, ServedCounts>> {
    const out = this.groups;
    this.groups = new Map();
    return out;
  }

  peek(): ReadonlyMap<string, ReadonlyMap<number, ServedCounts>> {
    return this.groups;
  }
}
