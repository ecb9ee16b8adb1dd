import { type Kysely, sql } from 'kysely';
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

/**
 * The witness's own tables beside the log tables the shared migrations create. Created if missing,
 * in both dialects (text and bigint only), so a witness database never needs the server's schema steps.
 */
export async function ensureWitnessTables(db: Db): Promise<WitnessDb> {
  const w = db.withTables<WitnessTables>() as unknown as WitnessDb;
  await w.schema
    .createTable('witness_checkpoints')
    .ifNotExists()
    .addColumn('origin', 'text', (c) => c.primaryKey())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('root', 'text', (c) => c.notNull())
    .addColumn('note', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await w.schema
    .createTable('witness_evidence')
    .ifNotExists()
    .addColumn('digest', 'text', (c) => c.primaryKey())
    .addColumn('origin', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('request', 'text', (c) => c.notNull())
    .addColumn('witnessed', 'text', (c) => c.notNull())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .execute();
  await sql`select 1`.execute(w);
  return w;
}
