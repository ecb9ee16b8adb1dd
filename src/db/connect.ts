import { basename, dirname, join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { privateDir, privateFile } from '../common/files.js';
import { Kysely, SqliteDialect } from 'kysely';
import { migrate } from './migrations.js';
import { postgresDialect } from './postgres.js';
import type { Database, Db } from './schema.js';

export interface ConnectOptions {
  /** `postgres://…` for PostgreSQL; otherwise a SQLite file path (or ':memory:'). */
  url: string;
}

/** Opens the database and brings its schema up to date. Only this folder knows the dialect. */
export async function connect({ url }: ConnectOptions): Promise<Db> {
  const dialect = /^postgres(ql)?:\/\//.test(url) ? postgresDialect(url) : sqliteDialect(url);
  const db = new Kysely<Database>({ dialect });
  await migrate(db as Kysely<unknown>);
  return db;
}

function sqliteDialect(file: string): SqliteDialect {
  // SQLite gives its -wal and -shm files the database file's mode, so 0600 here covers all three.
  if (file !== ':memory:') privateFile(join(privateDir(dirname(file)), basename(file)));
  const sqlite = new SqliteDatabase(file);
  // WAL: readers (other nodes' refresh) never block the writer; busy_timeout: two processes on one
  // file wait for each other instead of failing with SQLITE_BUSY.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.defaultSafeIntegers(false);
  return new SqliteDialect({ database: sqlite });
}
