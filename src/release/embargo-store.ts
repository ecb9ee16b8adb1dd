import { randomBytes } from 'node:crypto';
import { FairpatchError } from '../errors.js';
import type { Db } from '../db/schema.js';
import { isUniqueViolation } from '../db/errors.js';

export interface EmbargoMember {
  vendor: string;
  /** The member's metadata version staged into the embargo; undefined while it is not ready. */
  stagedVersion?: number;
  leftOut: boolean;
}

export interface EmbargoDecision {
  decision: 'moved' | 'left-out';
  member?: string;
  releaseAt: number;
}

export interface EmbargoRecord {
  id: string;
  releaseAt: number;
  nonce: string;
  createdAt: number;
  revealedAt?: number;
  members: EmbargoMember[];
  decisions: EmbargoDecision[];
}

/**
 * Locks the rows of these vendors, in name order (a row lock on PostgreSQL; SQLite has one writer).
 * Every write of a vendor's versions (staging, a key rotation) and every embargo change naming it
 * (creation, a move) takes them first, so the embargo check and the write it guards see one state on
 * every node: a staging cannot read the old time while a move commits the new one. Always before an
 * embargo's row, never after: one order, no deadlock.
 */
export async function lockVendors(db: Db, vendors: readonly string[]): Promise<void> {
  for (const name of [...vendors].sort())
    await db.updateTable('vendors').set({ name }).where('name', '=', name).execute();
}

/** A version of a vendor not in effect yet (its metadata carries everything before it, too). */
export interface PendingVersion {
  vendor: string;
  version: number;
  effectiveAt: number;
  kind: string;
}

/** Database access for embargoes; each change is one transaction that locks the embargo's row first. */
export class EmbargoStore {
  constructor(readonly db: Db) {}

  async create(input: {
    id: string;
    releaseAt: number;
    members: string[];
    now: number;
    /** Sees the members' versions not in effect yet, under their locks; throws to refuse. */
    check: (pending: PendingVersion[]) => void;
  }): Promise<EmbargoRecord> {
    const nonce = randomBytes(32).toString('hex');
    try {
      await this.db.transaction().execute(async (trx) => {
        await lockVendors(trx, input.members);
        const pending = await trx
          .selectFrom('vendor_metadata')
          .select(['vendor', 'version', 'effective_at', 'kind'])
          .where('vendor', 'in', input.members)
          .where('effective_at', '>', input.now)
          .orderBy('vendor')
          .orderBy('version')
          .execute();
        input.check(
          pending.map((r) => ({
            vendor: r.vendor,
            version: Number(r.version),
            effectiveAt: Number(r.effective_at),
            kind: r.kind,
          })),
        );
        await trx
          .insertInto('embargoes')
          .values({
            id: input.id,
            release_at: input.releaseAt,
            nonce,
            created_at: input.now,
            revealed_at: null,
          })
          .execute();
        await trx
          .insertInto('embargo_members')
          .values(
            input.members.map((vendor) => ({
              embargo: input.id,
              vendor,
              staged_version: null,
              left_out: 0,
            })),
          )
          .execute();
      });
    } catch (error) {
      if (isUniqueViolation(error))
        throw new FairpatchError('ALREADY_EXISTS', `embargo ${input.id} already exists`);
      throw error;
    }
    return (await this.get(input.id)) as EmbargoRecord;
  }

  async get(id: string): Promise<EmbargoRecord | undefined> {
    const row = await this.db
      .selectFrom('embargoes')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    const members = await this.db
      .selectFrom('embargo_members')
      .selectAll()
      .where('embargo', '=', id)
      .orderBy('vendor')
      .execute();
    const decisions = await this.db
      .selectFrom('embargo_decisions')
      .selectAll()
      .where('embargo', '=', id)
      .orderBy('seq')
      .execute();
    return {
      id: row.id,
      releaseAt: Number(row.release_at),
      nonce: row.nonce,
      createdAt: Number(row.created_at),
      ...(row.revealed_at === null ? {} : { revealedAt: Number(row.revealed_at) }),
      members: members.map((m) => ({
        vendor: m.vendor,
        leftOut: Number(m.left_out) === 1,
        ...(m.staged_version === null ? {} : { stagedVersion: Number(m.staged_version) }),
      })),
      decisions: decisions.map((d) => ({
        decision: d.decision,
        releaseAt: Number(d.release_at),
        ...(d.member === null ? {} : { member: d.member }),
      })),
    };
  }

  /**
   * Whether `vendor` is a member of embargo `id`: one primary-key read of the membership, the same
   * statement whether the embargo exists or not, so a non-member cannot tell the two apart by the
   * work done (or its time). Members then read the rest; they may know it exists.
   */
  async isMember(id: string, vendor: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('embargo_members')
      .select('vendor')
      .where('embargo', '=', id)
      .where('vendor', '=', vendor)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Embargoes not yet past their time that name `vendor` (left out or not). */
  async pendingFor(
    vendor: string,
    now: number,
  ): Promise<Array<{ id: string; releaseAt: number; leftOut: boolean; stagedVersion?: number }>> {
    const rows = await this.db
      .selectFrom('embargo_members')
      .innerJoin('embargoes', 'embargoes.id', 'embargo_members.embargo')
      .select([
        'embargoes.id',
        'embargoes.release_at',
        'embargo_members.left_out',
        'embargo_members.staged_version',
      ])
      .where('embargo_members.vendor', '=', vendor)
      .where('embargoes.release_at', '>', now)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      releaseAt: Number(r.release_at),
      leftOut: Number(r.left_out) === 1,
      ...(r.staged_version === null ? {} : { stagedVersion: Number(r.staged_version) }),
    }));
  }

  async unrevealed(): Promise<string[]> {
    const rows = await this.db
      .selectFrom('embargoes')
      .select('id')
      .where('revealed_at', 'is', null)
      .orderBy('id')
      .execute();
    return rows.map((r) => r.id);
  }

  /** Current times of embargoes that were moved: versions due then may have been re-timed. */
  async movedTimes(): Promise<Set<number>> {
    const rows = await this.db
      .selectFrom('embargoes')
      .select('release_at')
      .where(
        'id',
        'in',
        this.db.selectFrom('embargo_decisions').select('embargo').where('decision', '=', 'moved'),
      )
      .execute();
    return new Set(rows.map((r) => Number(r.release_at)));
  }

  /** Embargoes whose time has come and that the log has not revealed yet. */
  async dueForReveal(now: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('embargoes')
      .select('id')
      .where('release_at', '<=', now)
      .where('revealed_at', 'is', null)
      .orderBy('id')
      .execute();
    return rows.map((r) => r.id);
  }

  async markRevealed(id: string, now: number): Promise<void> {
    await this.db
      .updateTable('embargoes')
      .set({ revealed_at: now })
      .where('id', '=', id)
      .where('revealed_at', 'is', null)
      .execute();
  }

  /**
   * Moves the embargo and, in the same transaction, every version of every member that would go live
   * from the old time up to the new one: the staged fixes, and anything a member staged outside the
   * embargo at or after the old time (which EMBARGO_PENDING allowed), since that could carry the fix
   * too. Versions before the old time are left alone. `check` sees the record as locked, so two
   * moves, or a move and a member's staging, cannot interleave.
   */
  async move(
    id: string,
    releaseAt: number,
    now: number,
    check: (record: EmbargoRecord, stagedBytes: Map<string, string>) => void,
  ): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      // The members' rows, then the embargo's: a concurrent staging by a member, into the embargo or
      // outside it, waits for us, then reads the new time (and one that went first is re-timed here).
      const names = await trx
        .selectFrom('embargo_members')
        .select('vendor')
        .where('embargo', '=', id)
        .execute();
      await lockVendors(
        trx,
        names.map((n) => n.vendor),
      );
      await trx.updateTable('embargoes').set({ id }).where('id', '=', id).execute();
      const record = await new EmbargoStore(trx).get(id);
      if (!record) throw new FairpatchError('NOT_FOUND', `no embargo ${id}`);
      const members = record.members.map((m) => m.vendor);
      const moving = await trx
        .selectFrom('vendor_metadata')
        .select(['vendor', 'bytes'])
        .where('vendor', 'in', members)
        .where('effective_at', '>=', record.releaseAt)
        .where('effective_at', '<', releaseAt)
        .execute();
      const bytes = new Map<string, string>();
      // The latest of each vendor's moving versions expires last; check that it outlives the new time.
      for (const row of moving) bytes.set(row.vendor, row.bytes);
      check(record, bytes);
      await trx
        .updateTable('vendor_metadata')
        .set({ effective_at: releaseAt })
        .where('vendor', 'in', members)
        .where('effective_at', '>=', record.releaseAt)
        .where('effective_at', '<', releaseAt)
        .execute();
      await trx
        .updateTable('embargoes')
        .set({ release_at: releaseAt })
        .where('id', '=', id)
        .execute();
      await trx
        .insertInto('embargo_decisions')
        .values({
          embargo: id,
          seq: record.decisions.length + 1,
          decision: 'moved',
          member: null,
          release_at: releaseAt,
          created_at: now,
        })
        .execute();
    });
  }

  /** Releases the embargo without these members (never one that is ready: see embargo.ts). */
  async leaveOut(
    id: string,
    members: string[],
    now: number,
    check: (record: EmbargoRecord) => void,
  ): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('embargoes').set({ id }).where('id', '=', id).execute();
      const record = await new EmbargoStore(trx).get(id);
      if (!record) throw new FairpatchError('NOT_FOUND', `no embargo ${id}`);
      check(record);
      let seq = record.decisions.length;
      for (const member of members) {
        await trx
          .updateTable('embargo_members')
          .set({ left_out: 1 })
          .where('embargo', '=', id)
          .where('vendor', '=', member)
          .execute();
        await trx
          .insertInto('embargo_decisions')
          .values({
            embargo: id,
            seq: ++seq,
            decision: 'left-out',
            member,
            release_at: record.releaseAt,
            created_at: now,
          })
          .execute();
      }
    });
  }
}
