import { sql } from 'kysely';
import { isPostgres } from './connect.js';
import type { Db } from './schema.js';

/**
 * The database server's clock, in ms since the epoch: every node over one PostgreSQL compares its
 * own clock with this one. `clock_timestamp()` is the time of reading, not of the transaction's
 * start. A SQLite file has no clock of its own (it is read on this machine): undefined.
 */
export async function databaseTime(db: Db): Promise<number | undefined> {
  if (!isPostgres(db)) return undefined;
  const { rows } = await sql<{
    ms: number;
  }>`select (extract(epoch from clock_timestamp()) * 1000)::float8 as ms`.execute(db);
  return rows[0]?.ms;
}
