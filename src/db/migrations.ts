import {
  DEFAULT_MIGRATION_TABLE,
  type Kysely,
  type Migration,
  type MigrationProvider,
  Migrator,
  PostgresAdapter,
  sql,
} from 'kysely';
import { FairpatchError } from '../errors.js';
import type { TargetsSigned } from '../tuf/metadata.js';
import type { Database } from './schema.js';
import { describeDatabaseError, isDatabaseUnavailable } from './errors.js';

// One migration set for SQLite and PostgreSQL: only types both dialects share (text, bigint), and
// raw bytes, which each dialect names its own way (bytea, blob).
const bytesType = (db: Kysely<unknown>) =>
  db.getExecutor().adapter instanceof PostgresAdapter ? sql`bytea` : sql`blob`;

const migrations: Record<string, Migration> = {
  '0001_repository': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('repo_config')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('root_versions')
        .addColumn('version', 'bigint', (c) => c.primaryKey())
        .addColumn('bytes', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('top_targets')
        .addColumn('version', 'bigint', (c) => c.primaryKey())
        .addColumn('bytes', 'text', (c) => c.notNull())
        .addColumn('effective_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('vendors')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('keyid', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('tokens')
        .addColumn('hash', 'text', (c) => c.primaryKey())
        .addColumn('vendor', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint')
        .execute();
      await db.schema
        .createTable('vendor_metadata')
        .addColumn('vendor', 'text', (c) => c.notNull())
        .addColumn('version', 'bigint', (c) => c.notNull())
        .addColumn('bytes', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('effective_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        // The primary key is what serializes publishers: two uploads of one version cannot both land.
        .addPrimaryKeyConstraint('vendor_metadata_pk', ['vendor', 'version'])
        .execute();
      await db.schema
        .createTable('blobs')
        .addColumn('sha256', 'text', (c) => c.primaryKey())
        .addColumn('length', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  '0002_log': {
    async up(db: Kysely<unknown>) {
      // One row: the log's size and root. Appends update it with `WHERE size = <read size>`, so two
      // nodes appending at once cannot both win (optimistic locking, the same on both dialects).
      await db.schema
        .createTable('log_head')
        .addColumn('id', 'bigint', (c) => c.primaryKey())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('root', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('log_leaves')
        .addColumn('idx', 'bigint', (c) => c.primaryKey())
        .addColumn('dedupe', 'text', (c) => c.notNull().unique())
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('log_nodes')
        .addColumn('level', 'bigint', (c) => c.notNull())
        .addColumn('idx', 'bigint', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('log_nodes_pk', ['level', 'idx'])
        .execute();
      await db.schema
        .createTable('log_checkpoints')
        .addColumn('size', 'bigint', (c) => c.primaryKey())
        .addColumn('note', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('receipt_documents')
        .addColumn('digest', 'text', (c) => c.primaryKey())
        .addColumn('tick', 'bigint', (c) => c.notNull())
        .addColumn('document', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0003_install_reports': {
    async up(db: Kysely<unknown>) {
      // Agents' install outcomes, counted per group; `grp` because GROUP is an SQL keyword.
      await db.schema
        .createTable('install_reports')
        .addColumn('grp', 'text', (c) => c.notNull())
        .addColumn('product', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('count', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('install_reports_pk', ['grp', 'product', 'version', 'outcome'])
        .execute();
    },
  },
  '0004_vendor_isolation': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('vendor_blobs')
        .addColumn('vendor', 'text', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('length', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('vendor_blobs_pk', ['vendor', 'sha256'])
        .execute();
      // The primary keys decide races: two vendors claiming one new product, or two uploads binding
      // one path, cannot both land.
      await db.schema
        .createTable('products')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('vendor', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('target_paths')
        .addColumn('path', 'text', (c) => c.primaryKey())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('length', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await backfillVendorIsolation(db as Kysely<Database>);
    },
  },
  '0005_blob_chunks': {
    async up(db: Kysely<unknown>) {
      // Artifact bytes in the database, so every node serves every artifact: fixed-size chunks, and
      // one `blob_contents` row, written in the same transaction as the last chunk, once the bytes
      // hash to their name. A blob without that row does not exist for readers.
      await db.schema
        .createTable('blob_contents')
        .addColumn('sha256', 'text', (c) => c.primaryKey())
        .addColumn('length', 'bigint', (c) => c.notNull())
        .addColumn('chunk_size', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('blob_chunks')
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('idx', 'bigint', (c) => c.notNull())
        .addColumn('data', bytesType(db), (c) => c.notNull())
        .addPrimaryKeyConstraint('blob_chunks_pk', ['sha256', 'idx'])
        .execute();
    },
  },
  '0005_root_effective_at': {
    async up(db: Kysely<unknown>) {
      // A root takes effect at a tick, like a release: every node switches keys at the same tick.
      // Roots stored before have none: they were in effect from the start.
      await db.schema.alterTable('root_versions').addColumn('effective_at', 'bigint').execute();
    },
  },
  '0006_embargoes': {
    async up(db: Kysely<unknown>) {
      // Coordinated releases. The nonce keeps the log's commitment to (id, members) from being
      // guessed: advisory ids and vendor names are few enough to try them all.
      await db.schema
        .createTable('embargoes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('release_at', 'bigint', (c) => c.notNull())
        .addColumn('nonce', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('revealed_at', 'bigint')
        .execute();
      // staged_version: the member's metadata version staged into the embargo (null: not ready);
      // left_out: the coordinator decided to release without it.
      await db.schema
        .createTable('embargo_members')
        .addColumn('embargo', 'text', (c) => c.notNull())
        .addColumn('vendor', 'text', (c) => c.notNull())
        .addColumn('staged_version', 'bigint')
        .addColumn('left_out', 'bigint', (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('embargo_members_pk', ['embargo', 'vendor'])
        .execute();
      // Decisions in order, revealed with the embargo at its tick.
      await db.schema
        .createTable('embargo_decisions')
        .addColumn('embargo', 'text', (c) => c.notNull())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('decision', 'text', (c) => c.notNull())
        .addColumn('member', 'text')
        .addColumn('release_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('embargo_decisions_pk', ['embargo', 'seq'])
        .execute();
    },
  },
  '0007_auto_pause_failures': {
    async up(db: Kysely<unknown>) {
      // The automatic pause's tally (src/release/auto-pause.ts): each vouched key's first signed
      // failure of a staged release, shared by every node of the database and kept over restarts.
      // The key makes one agent count once per release; the node stops adding at the threshold.
      await db.schema
        .createTable('auto_pause_failures')
        .addColumn('release', 'text', (c) => c.notNull())
        .addColumn('agent', 'text', (c) => c.notNull())
        .addColumn('report', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('auto_pause_failures_pk', ['release', 'agent'])
        .execute();
    },
  },
};

/**
 * Repositories created before ownership was recorded: each vendor owns the products, paths and blobs
 * its staged metadata already names, the earliest version first (so an earlier hijack does not win).
 */
async function backfillVendorIsolation(db: Kysely<Database>): Promise<void> {
  const rows = await db
    .selectFrom('vendor_metadata')
    .select(['vendor', 'bytes', 'created_at'])
    .orderBy('created_at')
    .orderBy('version')
    .execute();
  const products = new Map<string, { vendor: string; at: number }>();
  const paths = new Map<string, { sha256: string; length: number; at: number }>();
  const blobs = new Map<string, { vendor: string; sha256: string; length: number; at: number }>();
  for (const row of rows) {
    const targets = (JSON.parse(row.bytes) as { signed: TargetsSigned }).signed.targets;
    for (const [path, info] of Object.entries(targets)) {
      const at = Number(row.created_at);
      if (info.custom?.product && !products.has(info.custom.product))
        products.set(info.custom.product, { vendor: row.vendor, at });
      if (!paths.has(path))
        paths.set(path, { sha256: info.hashes.sha256, length: info.length, at });
      blobs.set(`${row.vendor}/${info.hashes.sha256}`, {
        vendor: row.vendor,
        sha256: info.hashes.sha256,
        length: info.length,
        at,
      });
    }
  }
  for (const [name, p] of products)
    await db.insertInto('products').values({ name, vendor: p.vendor, created_at: p.at }).execute();
  for (const [path, p] of paths)
    await db
      .insertInto('target_paths')
      .values({ path, sha256: p.sha256, length: p.length, created_at: p.at })
      .execute();
  for (const b of blobs.values())
    await db
      .insertInto('vendor_blobs')
      .values({ vendor: b.vendor, sha256: b.sha256, length: b.length, created_at: b.at })
      .execute();
}

export const migrationProvider: MigrationProvider = { getMigrations: async () => migrations };

/**
 * One list of migrations and the table that records which ran. A server beside the node's schema (a
 * witness) keeps its own list under its own table: Kysely refuses a table naming a migration its list lacks.
 */
export interface MigrationSet {
  provider: MigrationProvider;
  /** The record of applied migrations; its lock table is this name with `_lock`. */
  table: string;
}

/** The node's schema, which a witness's database also holds (its log is the same store). */
export const NODE_MIGRATIONS: MigrationSet = {
  provider: migrationProvider,
  table: DEFAULT_MIGRATION_TABLE,
};

/** Applies pending migrations; a failed step becomes one coded error naming it (Kysely's result set). */
export async function migrate(
  db: Kysely<unknown>,
  set: MigrationSet = NODE_MIGRATIONS,
): Promise<void> {
  const { error, results } = await new Migrator({
    db,
    provider: set.provider,
    migrationTableName: set.table,
    migrationLockTableName: `${set.table}_lock`,
  }).migrateToLatest();
  if (error) {
    // A lost connection is not a broken migration: the caller names the database and the cause.
    if (isDatabaseUnavailable(error)) throw error;
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new FairpatchError(
      'INTERNAL',
      `${failed ? `migration ${failed}` : 'migrating the schema'} failed: ${describeDatabaseError(error)}`,
      { cause: error },
    );
  }
}
