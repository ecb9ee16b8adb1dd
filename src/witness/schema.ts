import type { Kysely, Migration } from 'kysely';
import { type MigrationSet, migrate } from '../db/migrations.js';
import type { Db } from '../db/schema.js';

/** The latest checkpoint this witness verified and cosigned, per log origin (C2SP tlog-witness). */
export type WitnessCheckpointTable = {
  origin: string;
  size: number;
  root: string;
  note: string;
  updated_at: number;
};

/** Refused add-checkpoint requests whose log signature verified: possible proof of a fork, kept. */
export type WitnessEvidenceTable = {
  digest: string;
  origin: string;
  reason: string;
  request: string;
  witnessed: string;
  received_at: number;
};

export type WitnessTables = {
  witness_checkpoints: WitnessCheckpointTable;
  witness_evidence: WitnessEvidenceTable;
};

export type WitnessDb = Kysely<WitnessTables>;

const witnessMigrations: Record<string, Migration> = {
  '0001_witness_tables': {
    async up(db: Kysely<unknown>) {
      // `if not exists`: witnesses before this list created these very tables at every start,
      // outside any Migrator; their databases adopt them here, rows and all.
      await db.schema
        .createTable('witness_checkpoints')
        .ifNotExists()
        .addColumn('origin', 'text', (c) => c.primaryKey())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('root', 'text', (c) => c.notNull())
        .addColumn('note', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('witness_evidence')
        .ifNotExists()
        .addColumn('digest', 'text', (c) => c.primaryKey())
        .addColumn('origin', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('request', 'text', (c) => c.notNull())
        .addColumn('witnessed', 'text', (c) => c.notNull())
        .addColumn('received_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
};

/**
 * The witness's own tables, beside the log tables of the node's migrations (which `connect` applies):
 * their own migration list, recorded in their own table, so the node's list never sees their names.
 */
export const WITNESS_MIGRATIONS: MigrationSet = {
  provider: { getMigrations: async () => witnessMigrations },
  table: 'witness_migration',
};

/** Brings the witness's own tables up to date (both dialects: text and bigint only). */
export async function migrateWitness(db: Db): Promise<WitnessDb> {
  await migrate(db as Kysely<unknown>, WITNESS_MIGRATIONS);
  return db.withTables<WitnessTables>() as unknown as WitnessDb;
}
