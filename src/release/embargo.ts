import { z } from 'zod';
import { EMBARGO_PATTERN } from '../common/names.js';
import { activationTick, tickStart } from '../common/tick.js';
import { FairpatchError } from '../errors.js';
import {
  type EmbargoDecisionLeaf,
  MAX_SEALED_SCHEDULES,
  type OpenedSchedule,
  decisionCommitment,
  embargoCommitment,
  sealedSchedule,
} from '../log/embargo-leaves.js';
import type { LeafOf } from '../log/leaves.js';
import type { TargetsSigned } from '../tuf/metadata.js';
import { isoSeconds, parseIsoSeconds } from '../tuf/time.js';
import { parseWith, vendorName } from '../tuf/schema.js';
import type { EmbargoRecord, EmbargoStore, PendingVersion } from './embargo-store.js';
import type { StoredVersion } from '../serving/state.js';
import type { Repository } from './repository.js';

/**
 * Coordinated releases: several vendors fix one flaw in a shared component, and whoever ships first
 * hands attackers a diff against everyone else's customers. An embargo names the members and one
 * time; each member stages its fix into it (staging with `?embargo=ID`, see embargo-staging.ts), and
 * every ready member's version activates at the same tick, so one timestamp (one snapshot version)
 * flips the whole set on every node.
 *
 * Moving it. A member's signed `release_at` is the earliest its fix may go live, not a promise of
 * the moment: the server only ever serves a version from its stored activation time, which it may
 * push later (TUF clients never read `release_at`; it is this repository's custom field). So a move
 * later re-times every member version due from the old time on (the staged fixes, and anything a
 * member staged outside at or after the old time) in the same transaction that moves the embargo,
 * without new signatures, and at least one lead time before the
 * old tick, so every node holds the new time before the old one comes. A move earlier would serve a
 * fix before the time its vendor signed, so it is refused once any member is ready. Nothing ever
 * activates before the embargo's current time.
 */

const iso = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/, 'release_at: YYYY-MM-DDTHH:MM:SSZ');
const embargoId = z
  .string()
  .regex(EMBARGO_PATTERN, 'id: an advisory or CVE id (letters, digits, . _ -, at most 64)');
export const embargoCreateSchema = z.strictObject({
  id: embargoId,
  release_at: iso,
  members: z.array(vendorName).min(1).max(64),
});
export const embargoMoveSchema = z.strictObject({ release_at: iso });
export const embargoDecideSchema = z.strictObject({
  leave_out: z.array(vendorName).min(1).max(64),
});

/** What a member (or the coordinator) sees: who is ready, and when. */
export interface EmbargoView {
  id: string;
  release_at: string;
  activation_tick: number;
  state: 'pending' | 'released';
  members: Array<{ vendor: string; ready: boolean; left_out: boolean; metadata_version?: number }>;
  decisions: Array<{ decision: string; member?: string; release_at: string }>;
}

export function parseEmbargoId(value: string | undefined): string {
  const parsed = embargoId.safeParse(value);
  if (!parsed.success) throw new FairpatchError('NOT_FOUND', 'no such embargo');
  return parsed.data;
}

export class Embargoes {
  constructor(
    private readonly repo: Repository,
    readonly store: EmbargoStore,
  ) {}

  private time(value: string): number {
    const at = parseIsoSeconds(value);
    if (at === undefined)
      throw new FairpatchError('BAD_REQUEST', `release_at ${value} is not a valid time`);
    return at;
  }

  /** The new time: far enough ahead for every node to hold it, no further than any release may be. */
  private checkAhead(at: number, now: number): void {
    const { minLeadMs, maxHorizonMs } = this.repo;
    if (at < now + minLeadMs)
      throw new FairpatchError(
        'RELEASE_TOO_SOON',
        `release_at: must be at least ${minLeadMs / 1000}s ahead so every node holds it before the tick`,
        { details: { field: 'release_at', earliest: isoSeconds(now + minLeadMs) } },
      );
    if (at > now + maxHorizonMs)
      throw new FairpatchError(
        'RELEASE_TOO_LATE',
        'release_at: beyond the horizon any release may be scheduled',
        { details: { field: 'release_at', latest: isoSeconds(now + maxHorizonMs) } },
      );
  }

  async create(body: unknown): Promise<EmbargoView> {
    const input = parseWith(embargoCreateSchema, body, 'BAD_REQUEST');
    const now = this.repo.clock.now();
    const releaseAt = this.time(input.release_at);
    this.checkAhead(releaseAt, now);
    const members = [...new Set(input.members)].sort();
    for (const m of members)
      if (!(await this.repo.store.vendor(m)))
        throw new FairpatchError('BAD_REQUEST', `member ${m} is not a registered vendor`, {
          details: { field: 'members' },
        });
    const record = await this.store.create({
      id: input.id,
      releaseAt,
      members,
      now,
      check: (pending) => this.assertNothingPendingBefore(pending, releaseAt),
    });
    const commitment = embargoCommitment(record.id, members, record.nonce);
    await this.repo.log.embargo(`embargo-created:${commitment}`, {
      type: 'embargo.created',
      v: 2,
      commitment,
    });
    return this.viewOf(record);
  }

  /**
   * The operator (viewer null) or a member; anyone else is told it does not exist, like a missing one.
   * A vendor's request first reads only its own membership (one statement, the same for a missing id
   * and another's embargo), so existence does not show in the answer nor in the time it takes.
   */
  async view(id: string, viewer: string | null): Promise<EmbargoView> {
    if (viewer !== null && !(await this.store.isMember(id, viewer)))
      throw new FairpatchError('NOT_FOUND', 'no such embargo');
    const record = await this.store.get(id);
    if (!record) throw new FairpatchError('NOT_FOUND', 'no such embargo');
    return this.viewOf(record);
  }

  async move(id: string, body: unknown): Promise<EmbargoView> {
    const input = parseWith(embargoMoveSchema, body, 'BAD_REQUEST');
    const now = this.repo.clock.now();
    const releaseAt = this.time(input.release_at);
    this.checkAhead(releaseAt, now);
    await this.repo.refresh();
    const ticksBefore = new Map(
      [...this.repo.view.state.vendors].flatMap(([vendor, list]) =>
        list.map((v) => [`${vendor}/${v.version}`, v.activationTick] as const),
      ),
    );
    await this.store.move(id, releaseAt, now, (record, moving) => {
      this.assertOpen(record, now, this.repo.minLeadMs);
      const ready = record.members
        .filter((m) => m.stagedVersion !== undefined)
        .map((m) => m.vendor);
      if (releaseAt < record.releaseAt && ready.length > 0) {
        throw new FairpatchError(
          'EMBARGO_INVALID',
          `${ready.join(', ')} signed release_at ${isoSeconds(record.releaseAt)}: an embargo with ready members only moves later`,
        );
      }
      for (const [vendor, bytes] of moving) {
        const expires =
          parseIsoSeconds((JSON.parse(bytes) as { signed: TargetsSigned }).signed.expires) ?? 0;
        // TUF spec 5.6.4: a client refuses expired targets metadata, so it must outlive its activation.
        if (expires <= releaseAt)
          throw new FairpatchError(
            'EMBARGO_INVALID',
            `${vendor}'s staged metadata expires at ${isoSeconds(expires)}, before the new time`,
          );
      }
    });
    const record = (await this.store.get(id)) as EmbargoRecord;
    await this.repo.refresh();
    await this.logDecision(record);
    // Each moved version is committed again at its new tick (the auditor reads the latest schedule).
    for (const m of record.members) {
      for (const v of this.repo.view.state.vendors.get(m.vendor) ?? []) {
        const before = ticksBefore.get(`${m.vendor}/${v.version}`);
        if (before !== undefined && before !== v.activationTick && v.kind !== undefined)
          await this.repo.log.staged(m.vendor, v, v.kind, true);
      }
    }
    return this.viewOf(record);
  }

  async leaveOut(id: string, body: unknown): Promise<EmbargoView> {
    const input = parseWith(embargoDecideSchema, body, 'BAD_REQUEST');
    const now = this.repo.clock.now();
    const leave = [...new Set(input.leave_out)].sort();
    await this.store.leaveOut(id, leave, now, (record) => {
      // Leaving out a member changes nothing served (it has nothing staged): allowed up to the tick.
      this.assertOpen(record, now, 0);
      for (const vendor of leave) {
        const member = record.members.find((m) => m.vendor === vendor);
        if (!member)
          throw new FairpatchError('BAD_REQUEST', `${vendor} is not a member of embargo ${id}`, {
            details: { field: 'leave_out' },
          });
        if (member.leftOut)
          throw new FairpatchError('EMBARGO_INVALID', `${vendor} was already left out`);
        if (member.stagedVersion !== undefined)
          throw new FairpatchError(
            'EMBARGO_INVALID',
            `${vendor} is ready (version ${member.stagedVersion}): it ships with the embargo`,
          );
      }
    });
    const record = (await this.store.get(id)) as EmbargoRecord;
    await this.logDecision(record, leave.length);
    return this.viewOf(record);
  }

  /**
   * Every commitment (creation, decisions) of the embargoes not yet revealed, for the start-up sweep:
   * a crash between a change and its leaf must not leave the reveal opening more than was committed.
   */
  async pendingCommitments(): Promise<
    Array<{ dedupe: string; leaf: LeafOf<'embargo.created'> | LeafOf<'embargo.decided'> }>
  > {
    const out: Array<{
      dedupe: string;
      leaf: LeafOf<'embargo.created'> | LeafOf<'embargo.decided'>;
    }> = [];
    for (const id of await this.store.unrevealed()) {
      const record = await this.store.get(id);
      if (!record) continue;
      const commitment = embargoCommitment(
        record.id,
        record.members.map((m) => m.vendor),
        record.nonce,
      );
      out.push({
        dedupe: `embargo-created:${commitment}`,
        leaf: { type: 'embargo.created', v: 2, commitment },
      });
      out.push(...this.decisionLeaves(record, record.decisions.length));
    }
    return out;
  }

  /** The reveal leaves of embargoes whose tick has come; the caller logs them, then marks them revealed. */
  async dueReveals(): Promise<
    Array<{ id: string; dedupe: string; leaf: LeafOf<'embargo.revealed'> }>
  > {
    const now = this.repo.clock.now();
    const out: Array<{ id: string; dedupe: string; leaf: LeafOf<'embargo.revealed'> }> = [];
    for (const id of await this.store.dueForReveal(
      tickStart(this.repo.config, this.repo.currentTick()),
    )) {
      const record = await this.store.get(id);
      if (!record || tickStart(this.repo.config, this.tickOf(record.releaseAt)) > now) continue;
      const tick = this.tickOf(record.releaseAt);
      out.push({
        id,
        dedupe: `embargo-revealed:${id}`,
        leaf: {
          type: 'embargo.revealed',
          v: 2,
          id,
          nonce: record.nonce,
          members: record.members.map((m) => m.vendor),
          left_out: record.members.filter((m) => m.leftOut).map((m) => m.vendor),
          activation_tick: tick,
          decisions: record.decisions.map((d) => this.decisionLeaf(d)),
          schedules: this.schedulesAt(
            record.members.map((m) => m.vendor),
            tick,
          ),
        },
      });
    }
    return out;
  }

  /**
   * The schedules sealed for an embargo: every version of a member due at its tick (the fixes staged
   * into it, what a move re-timed to it, anything a member staged outside at exactly that time).
   */
  private schedulesAt(members: readonly string[], tick: number): OpenedSchedule[] {
    return members
      .flatMap((vendor) =>
        (this.repo.view.state.vendors.get(vendor) ?? [])
          .filter((v) => v.activationTick === tick)
          .map((v) => openedSchedule(vendor, v)),
      )
      .slice(0, MAX_SEALED_SCHEDULES);
  }

  /**
   * The sealed leaf for a member's version due at the tick of an embargo still pending, or undefined
   * when its schedule may be logged in the clear (no such embargo): evidence.ts asks before each
   * schedule it logs. The same answer on every node and at every start-up sweep until the tick, so
   * the leaf's dedupe key lands it once.
   */
  async sealed(
    vendor: string,
    version: StoredVersion,
  ): Promise<LeafOf<'schedule.sealed'> | undefined> {
    const now = this.repo.clock.now();
    for (const p of await this.store.pendingFor(vendor, now)) {
      if (this.tickOf(p.releaseAt) !== version.activationTick) continue;
      const record = await this.store.get(p.id);
      if (!record || record.revealedAt !== undefined) continue;
      return {
        type: 'schedule.sealed',
        v: 1,
        sealed: sealedSchedule(record.id, record.nonce, openedSchedule(vendor, version)),
      };
    }
    return undefined;
  }

  private decisionLeaf(d: EmbargoRecord['decisions'][number]): EmbargoDecisionLeaf {
    return {
      decision: d.decision,
      ...(d.member ? { member: d.member } : {}),
      activation_tick: this.tickOf(d.releaseAt),
    };
  }

  /** Logs the decisions not logged yet (the last `count`, default one): hashes only, until the tick. */
  private async logDecision(record: EmbargoRecord, count = 1): Promise<void> {
    for (const { dedupe, leaf } of this.decisionLeaves(record, count))
      await this.repo.log.embargo(dedupe, leaf);
  }

  private decisionLeaves(
    record: EmbargoRecord,
    count: number,
  ): Array<{ dedupe: string; leaf: LeafOf<'embargo.decided'> }> {
    const commitment = embargoCommitment(
      record.id,
      record.members.map((m) => m.vendor),
      record.nonce,
    );
    return record.decisions.flatMap((d, i) => {
      if (i < record.decisions.length - count) return [];
      const seq = i + 1;
      const leaf = this.decisionLeaf(d);
      return [
        {
          dedupe: `embargo-decided:${commitment}:${seq}`,
          leaf: {
            type: 'embargo.decided' as const,
            v: 2 as const,
            commitment,
            seq,
            decision_sha256: decisionCommitment(record.id, record.nonce, seq, leaf),
          },
        },
      ];
    });
  }

  /**
   * A member's release staged before the embargo exists and due before its time is refused, not held:
   * its schedule is already committed in the public log at its tick (and known to its customers), so
   * re-timing it would tell everyone that this vendor just joined an embargo, and vendor metadata is
   * cumulative, so any such version may carry the fix. The coordinator waits until it is out, or asks
   * the vendor to halt it, then creates the embargo. Only the coordinator (operator) reads this.
   * Other pending versions (a registration's empty one, a refresh, a key rotation, a halt) carry only
   * what is public already, since a release pending behind them is refused (RELEASE_PENDING).
   */
  private assertNothingPendingBefore(pending: PendingVersion[], releaseAt: number): void {
    const early = pending.find((p) => p.kind === 'release' && p.effectiveAt < releaseAt);
    if (!early) return;
    const at = isoSeconds(tickStart(this.repo.config, this.tickOf(early.effectiveAt)));
    throw new FairpatchError(
      'RELEASE_PENDING',
      `member ${early.vendor} has version ${early.version} pending until ${at}, before the embargo's time: it would ship first (it may carry the fix). Create the embargo once it is out, or have ${early.vendor} halt it`,
      {
        details: {
          field: 'members',
          member: early.vendor,
          version: early.version,
          activates_at: at,
        },
      },
    );
  }

  private assertOpen(record: EmbargoRecord, now: number, marginMs: number): void {
    if (record.releaseAt <= now + marginMs) {
      throw new FairpatchError(
        'EMBARGO_CLOSED',
        marginMs > 0
          ? `embargo ${record.id} is due at ${isoSeconds(record.releaseAt)}: too close for every node to learn of a change`
          : `embargo ${record.id} was released at ${isoSeconds(record.releaseAt)}`,
      );
    }
  }

  private tickOf(at: number): number {
    return activationTick(this.repo.config, at);
  }

  private viewOf(record: EmbargoRecord): EmbargoView {
    const tick = this.tickOf(record.releaseAt);
    return {
      id: record.id,
      release_at: isoSeconds(record.releaseAt),
      activation_tick: tick,
      state: this.repo.currentTick() >= tick ? 'released' : 'pending',
      members: record.members.map((m) => ({
        vendor: m.vendor,
        ready: m.stagedVersion !== undefined,
        left_out: m.leftOut,
        ...(m.stagedVersion !== undefined ? { metadata_version: m.stagedVersion } : {}),
      })),
      decisions: record.decisions.map((d) => ({
        decision: d.decision,
        ...(d.member ? { member: d.member } : {}),
        release_at: isoSeconds(d.releaseAt),
      })),
    };
  }
}

/** A version's schedule as a leaf in the clear would state it (release, halt, or any other change). */
function openedSchedule(vendor: string, v: StoredVersion): OpenedSchedule {
  return {
    kind: v.kind === 'release' || v.kind === 'halt' ? v.kind : 'change',
    vendor,
    metadata_version: v.version,
    metadata_sha256: v.sha256,
    activation_tick: v.activationTick,
  };
}
