import { randomUUID } from 'node:crypto';
import { FairpatchError } from '../errors.js';
import type { OwnersByGroup } from '../common/enrollment.js';
import { type Leaf, type LeafOf, leafBytes, leafSchema } from '../log/leaves.js';
import type { Sequencer } from '../log/sequencer.js';
import { sha256Hex } from '../tuf/metadata.js';
import type { DeliveryCounter } from '../serving/accounting.js';
import type { Repository } from './repository.js';
import type { CommittedState, StoredVersion } from '../serving/state.js';
import { activeAt } from '../serving/view.js';

/**
 * Writes what happens to the repository into the transparency log. Every leaf here is a
 * deterministic function of committed state, named by a dedupe key, so any node may write it and
 * it lands once: the schedule (at staging), each activation (at its tick), halts, root rotations
 * and each node's delivery roll-ups.
 */
export class Evidence {
  private readonly activated = new Set<string>();
  private rollupSeq = 0;
  /** The last tick a roll-up covered: a node's first roll-up starts at the tick the node started. */
  private lastRollupTick: number;
  /** Roll-ups built but not yet in the log (the database was away): sent again, under the same dedupe key. */
  private readonly unsent = new Map<string, Leaf>();
  private readonly instance = randomUUID();
  /**
   * Changes other than releases and halts are logged from one snapshot period before this node
   * started: a node that was down for less than that catches up, an upgraded repository does not log
   * its whole history again.
   */
  private readonly changesFrom: number;

  constructor(
    private readonly repo: Repository,
    private readonly sequencer: Sequencer,
    private readonly counter: DeliveryCounter,
    private readonly nodeName: string,
  ) {
    this.lastRollupTick = repo.currentTick() - 1;
    this.changesFrom = repo.currentTick() - periodTicks(repo);
  }

  /** Told of each leaf this node appended itself (not one another node or an earlier run logged). */
  onLogged: (leaf: Leaf, index: number) => void = () => {};

  /** An embargo's leaf (embargo.ts builds it; hashes only until its tick). */
  embargo(dedupe: string, leaf: Leaf): Promise<number> {
    return this.append(dedupe, leaf);
  }

  private append(dedupe: string, leaf: Leaf): Promise<number> {
    const data = leafBytes(leaf);
    // Read back as every auditor will: a leaf none could read would blind every audit from here on
    // (a name too long, a field out of range), so it is refused here, where the bug is, not logged.
    const read = leafSchema.safeParse(JSON.parse(data.toString('utf8')));
    if (!read.success)
      return Promise.reject(
        new FairpatchError(
          'INTERNAL',
          `refusing to log a ${leaf.type} leaf no auditor could read: ${read.error.issues[0]?.message ?? ''} at ${read.error.issues[0]?.path.join('.') ?? ''}`,
        ),
      );
    return this.sequencer.placeAll([{ dedupe, data }]).then(([placed]) => {
      const { index, appended } = placed!;
      if (appended) this.onLogged(leaf, index);
      return index;
    });
  }

  /** Leaf 0: the tick clock and the first root, against which everything else is read. */
  async created(): Promise<void> {
    const { epochMs, tickMs, freshnessMs } = this.repo.config;
    const root = this.repo.view.state.roots[0];
    await this.append('repository.created', {
      type: 'repository.created',
      v: 1,
      epoch_ms: epochMs,
      tick_ms: tickMs,
      freshness_ms: freshnessMs,
      root_sha256: sha256Hex(root ?? Buffer.alloc(0)),
    });
  }

  /** Announces the next log key under checkpoints the current key signs (auditors learn it from here). */
  async logKeyRotated(vkey: string): Promise<void> {
    await this.append(`log-key:${vkey}`, { type: 'log.key-rotated', v: 1, vkey });
  }

  /**
   * The schedule (or halt), committed before its tick and again, idempotently, at start-up: nothing
   * staged goes unlogged. Only the commitment is public now: the metadata's sha256, not its contents.
   */
  async staged(
    vendor: string,
    version: StoredVersion,
    kind: string,
    rescheduled = false,
  ): Promise<number | undefined> {
    if (kind !== 'release' && kind !== 'halt')
      return this.changeStaged(vendor, version, rescheduled);
    const sealed = await this.sealedFor(vendor, version);
    if (sealed) return sealed;
    const type = kind === 'release' ? 'release.scheduled' : 'release.halted';
    // A version an embargo moved is committed again for its new tick; the auditor reads the latest.
    const suffix = rescheduled ? `@${version.activationTick}` : '';
    return this.append(
      `${kind === 'release' ? 'scheduled' : 'halted'}:${vendor}:${version.version}${suffix}`,
      {
        type,
        v: 2,
        vendor,
        metadata_version: version.version,
        metadata_sha256: version.sha256,
        activation_tick: version.activationTick,
      },
    );
  }

  /**
   * Any other version that changes what is served (a vendor's refresh, registration or key rotation,
   * the top-level targets, a root), committed before its tick like a schedule: only its sha256.
   */
  async changeStaged(role: string, version: StoredVersion, rescheduled = false): Promise<number> {
    if (role !== 'targets' && role !== 'root') {
      const sealed = await this.sealedFor(role, version);
      if (sealed) return sealed;
    }
    // Moved by an embargo (embargo.ts re-times every member version due from its old time on):
    // committed again for the new tick, like a schedule.
    const suffix = rescheduled ? `@${version.activationTick}` : '';
    return this.append(`change:${role}:${version.version}${suffix}`, {
      type: 'change.scheduled',
      v: 1,
      role,
      metadata_version: version.version,
      metadata_sha256: version.sha256,
      activation_tick: version.activationTick,
    });
  }

  /**
   * Start-up: says once in the log from which tick every served change has its leaf (with the snapshot
   * version then and the renewal period, which the auditor needs to explain every version after), and
   * commits, idempotently, every pending change a crash may have kept out of the log.
   */
  async changeCommitments(): Promise<void> {
    const view = this.repo.view;
    const k = this.repo.currentTick();
    await this.append('changes.logged:v1', {
      type: 'changes.logged',
      v: 1,
      from_tick: k,
      snapshot_version: view.snapshotVersionAt(k),
      snapshot_period_ticks: periodTicks(this.repo),
    });
    const due = otherChanges(view.state).filter(({ version }) => version.activationTick >= k);
    await Promise.all(due.map(({ role, version }) => this.changeStaged(role, version)));
  }

  /**
   * The operator's list of the customer groups it serves (the audit covers each of them) and, per
   * group, the owner keys that vouch for its agents: the operator answers for this declaration in the
   * log, and a group's owner or auditor who pins other keys is told (src/audit/enrollments.ts).
   */
  async groupsDeclared(groups: readonly string[], owners: OwnersByGroup = {}): Promise<number> {
    const sorted = [...new Set(groups)].sort();
    const leaf: Leaf =
      Object.keys(owners).length > 0
        ? { type: 'groups.declared', v: 2, groups: sorted, owners: { ...owners } }
        : { type: 'groups.declared', v: 1, groups: sorted };
    return this.append(`groups:${sha256Hex(leafBytes(leaf))}:${this.repo.clock.now()}`, leaf);
  }

  /**
   * A staged release the node paused on vouched agents' failure reports (src/release/auto-pause.ts):
   * once per release, so two nodes that both crossed the threshold log one pause.
   */
  autoPaused(leaf: LeafOf<'rollout.auto-paused'>): Promise<number> {
    return this.append(`auto-paused:${leaf.release}`, leaf);
  }

  /** Logs every staged version whose tick has come (and that really became active then). */
  async activations(): Promise<void> {
    const view = this.repo.view;
    const k = this.repo.currentTick();
    const pending: Array<Promise<number>> = [];
    for (const [vendor, versions] of view.state.vendors) {
      for (const v of versions) {
        const id = `${vendor}:${v.version}`;
        const kind = v.kind;
        if (
          this.activated.has(id) ||
          v.activationTick > k ||
          (kind !== 'release' && kind !== 'halt')
        )
          continue;
        this.activated.add(id);
        if (activeAt(versions, v.activationTick) !== v) continue; // superseded before its tick: never public
        const snapshot = view.snapshotAt(v.activationTick);
        // Not logged (the database was away): the next call tries again; the dedupe key lands it once.
        const retry = (error: unknown): never => {
          this.activated.delete(id);
          throw error;
        };
        const timestamp = view.timestampAt(v.activationTick);
        pending.push(
          this.bytesOf(vendor, v)
            .then((bytes) =>
              this.append(`activated:${id}`, {
                type: 'release.activated',
                v: 2,
                vendor,
                metadata_version: v.version,
                tick: v.activationTick,
                snapshot_version: snapshot.version,
                snapshot_sha256: sha256Hex(snapshot.bytes),
                timestamp_sha256: sha256Hex(timestamp),
                metadata: bytes.toString('utf8'),
              }),
            )
            .catch(retry),
        );
      }
    }
    for (const { role, version: v, active } of otherChanges(view.state)) {
      const id = `change:${role}:${v.version}`;
      if (this.activated.has(id) || v.activationTick > k || v.activationTick < this.changesFrom)
        continue;
      this.activated.add(id);
      if (!active(v.activationTick)) continue; // superseded at its tick: what replaced it is logged
      const leaf = this.changeActivated(role, v);
      if (!leaf) {
        this.activated.delete(id); // once this node holds the keys (a key file added), it logs it
        continue;
      }
      pending.push(
        this.bytesOf(role, v)
          .then((bytes) =>
            this.append(`change-activated:${role}:${v.version}`, {
              ...leaf,
              metadata: bytes.toString('utf8'),
            }),
          )
          .catch((error: unknown): never => {
            this.activated.delete(id);
            throw error;
          }),
      );
    }
    await Promise.all(pending);
    await this.reveals();
  }

  /**
   * Opens a change's commitment at its tick: the metadata served from then on, in which snapshot.
   * Undefined for a past tick under a root whose keys this node no longer holds: a tick it cannot sign
   * is one it never served (the nodes that served it logged it).
   */
  private changeActivated(role: string, v: StoredVersion): LeafOf<'change.activated'> | undefined {
    const view = this.repo.view;
    let snapshot: { version: number; bytes: Buffer };
    let timestamp: Buffer;
    try {
      snapshot = view.snapshotAt(v.activationTick);
      timestamp = view.timestampAt(v.activationTick);
    } catch (error) {
      if (error instanceof FairpatchError && error.code === 'KEY_UNAVAILABLE') return undefined;
      throw error;
    }
    return {
      type: 'change.activated',
      v: 1,
      role,
      metadata_version: v.version,
      tick: v.activationTick,
      snapshot_version: snapshot.version,
      snapshot_sha256: sha256Hex(snapshot.bytes),
      timestamp_sha256: sha256Hex(timestamp),
      metadata: '', // filled in by the caller from the version's bytes (bytesOf)
    };
  }

  /** A version's bytes: held while it is in effect or pending, read back once a later one replaced it. */
  private async bytesOf(role: string, v: StoredVersion): Promise<Buffer> {
    return v.bytes ?? this.repo.store.versionBytes(role, v.version);
  }

  /**
   * A member's version due at the tick of a pending embargo is committed sealed (embargo.ts): in the
   * clear its leaf would name the member and the tick before the reveal opens them.
   */
  private async sealedFor(vendor: string, version: StoredVersion): Promise<number | undefined> {
    const leaf = await this.repo.embargoes.sealed(vendor, version);
    return leaf && this.append(`sealed:${leaf.sealed}`, leaf);
  }

  /** Start-up sweep: commitments of pending embargoes a crash kept out of the log (idempotent). */
  async embargoCommitments(): Promise<void> {
    for (const { dedupe, leaf } of await this.repo.embargoes.pendingCommitments())
      await this.append(dedupe, leaf);
  }

  /** Opens every embargo whose tick has come: its id, members, nonce and decisions enter the log. */
  private async reveals(): Promise<void> {
    for (const due of await this.repo.embargoes.dueReveals()) {
      await this.append(due.dedupe, due.leaf);
      await this.repo.embargoes.store.markRevealed(due.id, this.repo.clock.now());
    }
  }

  /** Drains this node's poll counters into one roll-up leaf. */
  async rollup(): Promise<number | undefined> {
    const drained = this.counter.drain();
    const notified = this.counter.drainNotifications();
    const to = this.repo.currentTick();
    const from = this.lastRollupTick + 1;
    this.lastRollupTick = to;
    if (drained.size === 0 && notified.size === 0) return this.sendRollups();
    type GroupEntry = LeafOf<'delivery.rollup'>['groups'][string];
    const groups: Record<string, GroupEntry> = {};
    for (const group of [...new Set([...drained.keys(), ...notified.keys()])].sort()) {
      const versions: GroupEntry['versions'] = {};
      let polls = 0;
      for (const [version, d] of drained.get(group) ?? []) {
        versions[String(version)] = {
          polls: d.polls,
          first_tick: d.firstTick,
          last_tick: d.lastTick,
        };
        polls += d.polls;
      }
      const entry: GroupEntry = { polls, versions };
      const pushes = notified.get(group);
      if (pushes)
        entry.notifications = Object.fromEntries(
          [...pushes].map(([tick, n]) => [
            String(tick),
            { connections: n.connections, fanout_us: Math.round(n.fanoutMs * 1000) },
          ]),
        );
      groups[group] = entry;
    }
    // A restarted node may reuse its name (host:pid): the instance id keeps its roll-ups distinct.
    const dedupe = `rollup:${this.nodeName}:${this.instance}:${from}:${++this.rollupSeq}`;
    this.unsent.set(dedupe, {
      type: 'delivery.rollup',
      v: 1,
      node: this.nodeName,
      from_tick: Math.max(1, Math.min(from, to)),
      to_tick: to,
      groups,
    });
    return this.sendRollups();
  }

  /** Appends every roll-up not yet logged; resolves with the index of the newest. */
  private async sendRollups(): Promise<number | undefined> {
    const entries = [...this.unsent];
    const indices = await Promise.all(
      entries.map(async ([dedupe, leaf]) => {
        const index = await this.append(dedupe, leaf);
        this.unsent.delete(dedupe);
        return index;
      }),
    );
    return indices.at(-1);
  }

  async rootAdded(version: number, bytes: Buffer, keyids: Record<string, string[]>): Promise<void> {
    await this.append(`rotated:${version}`, {
      type: 'keys.rotated',
      v: 1,
      root_version: version,
      root_sha256: sha256Hex(bytes),
      keyids,
    });
  }
}

/** Snapshot renewals happen every this many ticks with no change (the view's period). */
function periodTicks(repo: Repository): number {
  const { snapshotPeriodMs, tickMs } = repo.config;
  return Math.max(1, Math.round(snapshotPeriodMs / tickMs));
}

/**
 * Every served change that is not a vendor's release or halt: a vendor's other versions (refresh,
 * registration, key rotation), the top-level targets, and each root after the first (leaf 0 names it).
 */
function otherChanges(state: CommittedState): Array<{
  role: string;
  version: StoredVersion;
  active: (k: number) => boolean;
}> {
  const out: Array<{ role: string; version: StoredVersion; active: (k: number) => boolean }> = [];
  const of = (role: string, list: readonly StoredVersion[], v: StoredVersion) => ({
    role,
    version: v,
    active: (k: number) => activeAt(list, k) === v,
  });
  for (const [vendor, versions] of state.vendors)
    for (const v of versions)
      if (v.kind !== 'release' && v.kind !== 'halt') out.push(of(vendor, versions, v));
  for (const v of state.topTargets) out.push(of('targets', state.topTargets, v));
  state.roots.forEach((bytes, i) => {
    const tick = state.rootTicks[i];
    if (i === 0 || tick === undefined) return;
    const v = {
      version: i + 1,
      bytes,
      sha256: sha256Hex(bytes),
      length: bytes.length,
      effectiveAt: 0,
      activationTick: tick,
    };
    out.push({ role: 'root', version: v, active: () => true });
  });
  return out;
}
