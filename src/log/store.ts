import { sql } from 'kysely';
import { BoundedCache } from '../common/bounded-cache.js';
import { FairpatchError } from '../errors.js';
import type { Db } from '../db/schema.js';
import { isRetryableConflict, isUniqueViolation } from '../db/errors.js';
import { emptyRoot, leafHash } from './merkle.js';
import {
  type NodeId,
  appendBatch,
  planConsistency,
  planInclusion,
  planInclusions,
  planRoot,
} from './tree.js';

export interface LogEntry {
  /** Unique name of the fact (e.g. `activated:acme:3`): appending it twice, from any node, lands it once. */
  dedupe: string;
  data: Buffer;
}

export interface AppendResult {
  size: number;
  root: Buffer;
  /** Index of each entry, in order (an existing index when the entry was already logged). */
  indices: number[];
  /** Whether each entry's own data was written (false: that dedupe name was logged before, or earlier in the batch). */
  appended: boolean[];
}

/** Signs a checkpoint for (size, root); injected so the store does no key handling. */
export type CheckpointSigner = (size: number, root: Buffer) => string;

const key = (id: NodeId): string => `${id.level}/${id.index}`;

/** The right edge of a tree of `size` leaves: the perfect subtrees a new leaf can complete or join. */
function frontier(size: number): NodeId[] {
  const ids: NodeId[] = [];
  for (let level = 0; 2 ** level <= size; level++)
    if (Math.floor(size / 2 ** level) % 2 === 1)
      ids.push({ level, index: Math.floor(size / 2 ** level) - 1 });
  return ids;
}

/**
 * The transparency log in the database: leaves, the hashes of perfect subtrees
 * (so a proof for any size is a few indexed reads) and signed checkpoints. One append is one
 * transaction guarded by `log_head`, so concurrent appenders on several nodes serialize and the
 * tree never forks.
 */
export class LogStore {
  /**
   * Node hashes this store wrote or read, by `level/index`. A node, once committed, never changes
   * (it is the root of a full subtree), so they are kept without checks: the proofs of a batch just
   * appended need nothing but nodes that batch wrote and the right edge it read. Bounded; oldest out.
   */
  private readonly nodeCache = new BoundedCache<string, Uint8Array>(MAX_CACHED_NODES);

  constructor(
    readonly db: Db,
    private readonly sign: CheckpointSigner,
  ) {}

  async head(): Promise<{ size: number; root: Buffer }> {
    const row = await this.db
      .selectFrom('log_head')
      .select(['size', 'root'])
      .where('id', '=', 1)
      .executeTakeFirst();
    return row
      ? { size: Number(row.size), root: Buffer.from(row.root, 'hex') }
      : { size: 0, root: Buffer.from(emptyRoot()) };
  }

  /** Appends a batch; retried by the caller (the sequencer) when another node appended first. */
  async append(entries: readonly LogEntry[], now: number): Promise<AppendResult> {
    // Nearly every entry is new: the first attempt does not look its name up, and lets the unique
    // index say otherwise; only then is the batch done again with the lookup.
    try {
      return await this.appendOnce(entries, now, false);
    } catch (error) {
      if (!(error instanceof AlreadyLogged)) throw error;
      return this.appendOnce(entries, now, true);
    }
  }

  private async appendOnce(
    entries: readonly LogEntry[],
    now: number,
    lookUp: boolean,
  ): Promise<AppendResult> {
    let written: Array<{ id: NodeId; hash: Uint8Array }> = [];
    try {
      const result = await this.db.transaction().execute(async (trx) => {
        const head = await trx
          .selectFrom('log_head')
          .select(['size', 'root'])
          .where('id', '=', 1)
          .executeTakeFirst();
        const size = head ? Number(head.size) : 0;
        const known = new Map<string, number>();
        const names = lookUp ? [...new Set(entries.map((e) => e.dedupe))] : [];
        for (let i = 0; i < names.length; i += 500) {
          const rows = await trx
            .selectFrom('log_leaves')
            .select(['dedupe', 'idx'])
            .where('dedupe', 'in', names.slice(i, i + 500))
            .execute();
          for (const r of rows) known.set(r.dedupe, Number(r.idx));
        }
        const fresh: LogEntry[] = [];
        const appended = entries.map((e) => {
          if (known.has(e.dedupe)) return false;
          known.set(e.dedupe, size + fresh.length);
          fresh.push(e);
          return true;
        });
        const indices = entries.map((e) => known.get(e.dedupe) as number);
        if (fresh.length === 0)
          return {
            size,
            root: head ? Buffer.from(head.root, 'hex') : Buffer.from(emptyRoot()),
            indices,
            appended,
          };

        const nodes = await this.readNodes(trx, frontier(size));
        const get = (id: NodeId): Uint8Array => {
          const hash = nodes.get(key(id));
          if (!hash) throw new FairpatchError('INTERNAL', `log node ${key(id)} is missing`);
          return hash;
        };
        const created = appendBatch(
          size,
          fresh.map((e) => leafHash(e.data)),
          get,
        );
        for (const n of created) nodes.set(key(n.id), n.hash);
        written = created;
        const newSize = size + fresh.length;
        const root = Buffer.from(planRoot(newSize).assemble(get));

        for (let i = 0; i < fresh.length; i += 200) {
          const chunk = fresh.slice(i, i + 200);
          const inserted = await trx
            .insertInto('log_leaves')
            .values(
              chunk.map((e, j) => ({
                idx: size + i + j,
                dedupe: e.dedupe,
                data: e.data.toString('utf8'),
                created_at: now,
              })),
            )
            .onConflict((oc) => oc.column('dedupe').doNothing())
            .executeTakeFirst();
          // A name already in the log: this attempt rolls back, and the next one looks names up.
          if (Number(inserted.numInsertedOrUpdatedRows) !== chunk.length) throw new AlreadyLogged();
        }
        for (let i = 0; i < created.length; i += 300) {
          await trx
            .insertInto('log_nodes')
            .values(
              created.slice(i, i + 300).map((n) => ({
                level: n.id.level,
                idx: n.id.index,
                hash: Buffer.from(n.hash).toString('hex'),
              })),
            )
            .execute();
        }
        if (head) {
          const updated = await trx
            .updateTable('log_head')
            .set({ size: newSize, root: root.toString('hex') })
            .where('id', '=', 1)
            .where('size', '=', size)
            .executeTakeFirst();
          if (Number(updated.numUpdatedRows) !== 1) throw new LogConflict();
        } else {
          await trx
            .insertInto('log_head')
            .values({ id: 1, size: newSize, root: root.toString('hex') })
            .execute();
        }
        await trx
          .insertInto('log_checkpoints')
          .values({ size: newSize, note: this.sign(newSize, root), created_at: now })
          .execute();
        return { size: newSize, root, indices, appended };
      });
      // Only once committed: a rolled-back append's nodes may be someone else's at those places.
      for (const n of written) this.nodeCache.set(key(n.id), n.hash);
      return result;
    } catch (error) {
      if (error instanceof LogConflict || isUniqueViolation(error) || isRetryableConflict(error))
        throw new LogConflict();
      throw error;
    }
  }

  async checkpoint(size?: number): Promise<string | undefined> {
    let query = this.db.selectFrom('log_checkpoints').select('note');
    query =
      size === undefined ? query.orderBy('size', 'desc').limit(1) : query.where('size', '=', size);
    return (await query.executeTakeFirst())?.note;
  }

  /**
   * The newest checkpoint a witness cosigned (a signature line by a key other than the log's own,
   * named `origin`) among the newest `window`, if it is at least `atLeast` leaves; the newest
   * checkpoint otherwise. A log with witnesses serves this one: a busy log signs a new checkpoint every
   * second, and serving the newest would hand auditors and agents, most of the time, one no witness
   * has cosigned yet. `atLeast` (the largest size served before) keeps what is served from shrinking,
   * which a client would rightly take for a split view.
   */
  async newestCosigned(origin: string, atLeast = 0, window = 16): Promise<string | undefined> {
    const rows = await this.db
      .selectFrom('log_checkpoints')
      .select(['size', 'note'])
      .orderBy('size', 'desc')
      .limit(window)
      .execute();
    const cosigned = rows.find(
      (r) =>
        Number(r.size) >= atLeast &&
        r.note
          .split('\n')
          .some((l) => l.startsWith('\u2014 ') && !l.startsWith(`\u2014 ${origin} `)),
    );
    return (cosigned ?? rows[0])?.note;
  }

  /** The newest checkpoint note and when it was signed (ms). */
  async latestCheckpoint(): Promise<{ note: string; createdAt: number } | undefined> {
    const row = await this.db
      .selectFrom('log_checkpoints')
      .select(['note', 'created_at'])
      .orderBy('size', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? { note: row.note, createdAt: Number(row.created_at) } : undefined;
  }

  /**
   * Adds witnesses' cosignature lines (C2SP tlog-cosignature) to the stored checkpoint of `size`;
   * lines already there are not repeated. Verifiers ignore signature lines by keys they do not know.
   */
  async addCosignatures(size: number, lines: string): Promise<void> {
    // Compare-and-set on the note: another node adding another witness's line at once is retried, not lost.
    for (let attempt = 0; attempt < 5; attempt++) {
      const row = await this.db
        .selectFrom('log_checkpoints')
        .select('note')
        .where('size', '=', size)
        .executeTakeFirst();
      if (!row) return;
      const have = new Set(row.note.split('\n'));
      const add = lines.split('\n').filter((l) => l.startsWith('\u2014 ') && !have.has(l));
      if (add.length === 0) return;
      const updated = await this.db
        .updateTable('log_checkpoints')
        .set({ note: row.note + add.map((l) => `${l}\n`).join('') })
        .where('size', '=', size)
        .where('note', '=', row.note)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 1) return;
    }
  }

  async entries(start: number, end: number): Promise<Array<{ index: number; data: string }>> {
    const rows = await this.db
      .selectFrom('log_leaves')
      .select(['idx', 'data'])
      .where('idx', '>=', start)
      .where('idx', '<', end)
      .orderBy('idx')
      .execute();
    return rows.map((r) => ({ index: Number(r.idx), data: r.data }));
  }

  /**
   * Entries from `start` (below `end`) until their JSON encoding would pass `maxBytes`; always at
   * least one, so a leaf of any size is reachable. The leaves' lengths are asked first, so a range of
   * large leaves is never read into memory whole; readers page on from the last index they got.
   */
  async entriesPage(
    start: number,
    end: number,
    maxBytes: number,
  ): Promise<Array<{ index: number; data: string }>> {
    // Characters never exceed the encoded bytes, so this reads no fewer rows than fit.
    let chars = 0;
    let upTo = start;
    for (const length of await this.entryLengths(start, end)) {
      chars += length + ENTRY_FRAMING_BYTES;
      if (chars > maxBytes && upTo > start) break;
      upTo++;
    }
    const page: Array<{ index: number; data: string }> = [];
    let bytes = 0;
    for (const entry of await this.entries(start, upTo)) {
      bytes += Buffer.byteLength(JSON.stringify(entry.data)) + ENTRY_FRAMING_BYTES;
      if (bytes > maxBytes && page.length > 0) break;
      page.push(entry);
    }
    return page;
  }

  /**
   * The stored hashes of tree `level` at indices [start, end), in order: a tlog tile is a range of
   * them (level 8·L), each the root of a perfect subtree, immutable once written. One range read.
   */
  async levelHashes(level: number, start: number, end: number): Promise<Buffer[]> {
    const rows = await this.db
      .selectFrom('log_nodes')
      .select(['idx', 'hash'])
      .where('level', '=', level)
      .where('idx', '>=', start)
      .where('idx', '<', end)
      .orderBy('idx')
      .execute();
    return rows.map((r) => Buffer.from(r.hash, 'hex'));
  }

  /** The length in characters of each leaf in [start, end), in order (never its data). */
  async entryLengths(start: number, end: number): Promise<number[]> {
    const rows = await this.db
      .selectFrom('log_leaves')
      .select(['idx', sql<number>`length(data)`.as('chars')])
      .where('idx', '>=', start)
      .where('idx', '<', end)
      .orderBy('idx')
      .execute();
    return rows.map((r) => Number(r.chars));
  }

  async inclusionProof(index: number, size: number): Promise<Uint8Array[]> {
    await this.assertSize(size);
    const plan = planInclusion(index, size);
    return plan.assemble(await this.nodeGetter(plan.needs));
  }

  /**
   * Inclusion proofs of many leaves in the tree of `size`, from one read of the nodes they need
   * (a batch of receipts answered at once, not a round of queries per receipt).
   */
  async inclusionProofs(indices: readonly number[], size: number): Promise<Uint8Array[][]> {
    await this.assertSize(size);
    const plan = planInclusions(indices, size);
    return plan.assemble(await this.nodeGetter(plan.needs));
  }

  async consistencyProof(first: number, second: number): Promise<Uint8Array[]> {
    await this.assertSize(second);
    const plan = planConsistency(first, second);
    return plan.assemble(await this.nodeGetter(plan.needs));
  }

  async rootAt(size: number): Promise<Uint8Array> {
    await this.assertSize(size);
    const plan = planRoot(size);
    return plan.assemble(await this.nodeGetter(plan.needs));
  }

  private async assertSize(size: number): Promise<void> {
    const head = await this.head();
    if (size > head.size)
      throw new FairpatchError('QUERY_INVALID', `the log has ${head.size} leaves, not ${size}`);
  }

  private async nodeGetter(ids: readonly NodeId[]): Promise<(id: NodeId) => Uint8Array> {
    const nodes = await this.readNodes(this.db, ids);
    return (id) => {
      const hash = nodes.get(key(id));
      if (!hash) throw new FairpatchError('INTERNAL', `log node ${key(id)} is missing`);
      return hash;
    };
  }

  /** The hashes of `ids` that exist, from the cache or else the database (then cached). */
  private async readNodes(db: Db, ids: readonly NodeId[]): Promise<Map<string, Uint8Array>> {
    const nodes = new Map<string, Uint8Array>();
    const missing: NodeId[] = [];
    for (const id of ids) {
      const hash = this.nodeCache.get(key(id));
      if (hash) nodes.set(key(id), hash);
      else missing.push(id);
    }
    for (const r of await selectNodes(db, missing)) {
      const hash = Buffer.from(r.hash, 'hex');
      nodes.set(`${r.level}/${r.idx}`, hash);
      this.nodeCache.set(`${r.level}/${r.idx}`, hash);
    }
    return nodes;
  }
}

/** About 8 MB of node hashes: the proofs of the last tens of thousands of leaves without a query. */
const MAX_CACHED_NODES = 1 << 16;

/** What one entry adds to a page besides its data: `{"index":…,"data":…},` with the widest index. */
const ENTRY_FRAMING_BYTES = 40;

/** An entry's name was already in the log, which an append that did not look names up finds late. */
class AlreadyLogged extends Error {}

/** Another appender won the race for this size; the sequencer retries. */
export class LogConflict extends Error {
  override readonly name = 'LogConflict';
}

async function selectNodes(
  db: Db,
  ids: readonly NodeId[],
): Promise<Array<{ level: number; idx: number; hash: string }>> {
  if (ids.length === 0) return [];
  const out: Array<{ level: number; idx: number; hash: string }> = [];
  const add = (rows: Array<{ level: number | string; idx: number | string; hash: string }>) =>
    out.push(...rows.map((r) => ({ level: Number(r.level), idx: Number(r.idx), hash: r.hash })));
  // A level with many nodes (a batch of proofs needs most of the low levels) is one
  // `level = L and idx in (…)` list; the few nodes of the other levels go in one query of pairs.
  const byLevel = new Map<number, number[]>();
  for (const id of ids) {
    const list = byLevel.get(id.level);
    if (list) list.push(id.index);
    else byLevel.set(id.level, [id.index]);
  }
  const few: NodeId[] = [];
  for (const [level, indices] of byLevel) {
    if (indices.length <= 16) {
      for (const index of indices) few.push({ level, index });
      continue;
    }
    for (let i = 0; i < indices.length; i += 500)
      add(
        await db
          .selectFrom('log_nodes')
          .select(['level', 'idx', 'hash'])
          .where('level', '=', level)
          .where('idx', 'in', indices.slice(i, i + 500))
          .execute(),
      );
  }
  for (let i = 0; i < few.length; i += 200) {
    const chunk = few.slice(i, i + 200);
    add(
      await db
        .selectFrom('log_nodes')
        .select(['level', 'idx', 'hash'])
        .where((eb) =>
          eb.or(chunk.map((id) => eb.and([eb('level', '=', id.level), eb('idx', '=', id.index)]))),
        )
        .execute(),
    );
  }
  return out;
}
