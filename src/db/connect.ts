import { basename, dirname, join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { privateDir, privateFile } from '../common/files.js';
import { Kysely, PostgresAdapter, SqliteDialect, sql } from 'kysely';
import { FairpatchError } from '../errors.js';
import { describeDatabaseError, isDatabaseUnavailable } from './errors.js';
import { migrate } from './migrations.js';
import { BACKSTOP_PAGES, startWalCheckpointer } from './wal-checkpointer.js';
import { type PostgresOptions, postgresDialect } from './postgres.js';
import type { Database, Db } from './schema.js';

/** The pool's bounds are needed over PostgreSQL only: a SQLite file has no pool. */
export interface ConnectOptions extends Partial<Omit<PostgresOptions, 'url'>> {
  /** `postgres://…` for PostgreSQL; otherwise a SQLite file path (or ':memory:'). */
  url: string;
}

const isPostgresUrl = (url: string): boolean => /^postgres(ql)?:\/\//.test(url);

/**
 * Opens the database and brings its schema up to date. Only this folder knows the dialect. A
 * database that cannot be reached or opened is one coded error naming where and why.
 */
export async function connect(options: ConnectOptions): Promise<Db> {
  const { url } = options;
  const { dialect, stopCheckpointer } = isPostgresUrl(url)
    ? { dialect: postgresDialect(withPoolBounds(options)), stopCheckpointer: undefined }
    : sqliteDialect(url);
  const db = new Kysely<Database>({ dialect });
  if (stopCheckpointer) {
    // The checkpointer's connection closes first, so the database is closed whole when this resolves.
    const destroy = db.destroy.bind(db);
    db.destroy = async () => {
      await stopCheckpointer();
      await destroy();
    };
  }
  try {
    await sql`select 1`.execute(db);
    await migrate(db as Kysely<unknown>);
  } catch (error) {
    await db.destroy().catch(() => {});
    if (isDatabaseUnavailable(error))
      throw new FairpatchError(
        'DATABASE_UNAVAILABLE',
        `database at ${where(url)} unreachable: ${describeDatabaseError(error)}`,
        { cause: error },
      );
    throw error;
  }
  return db;
}

/** The options with the pool's bounds, which a PostgreSQL caller (a node, a witness) must give. */
function withPoolBounds(options: ConnectOptions): PostgresOptions {
  const { connectTimeoutMs, poolSize, statementTimeoutMs } = options;
  if (connectTimeoutMs === undefined || poolSize === undefined || statementTimeoutMs === undefined)
    throw new FairpatchError(
      'INTERNAL',
      'a PostgreSQL database needs connectTimeoutMs, poolSize and statementTimeoutMs (the caller passes its settings)',
    );
  return { ...options, connectTimeoutMs, poolSize, statementTimeoutMs };
}

/** True when `db` talks to PostgreSQL (its blobs live in the database, shared by every node). */
export function isPostgres(db: Kysely<unknown> | Db): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/** host:port of a PostgreSQL URL, without credentials. */
function where(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || 'localhost'}:${parsed.port || 5432}`;
  } catch {
    return 'the configured URL';
  }
}

/** The dialect over `file`, and what stops its WAL checkpointer (a file on disk has one). */
function sqliteDialect(file: string): {
  dialect: SqliteDialect;
  stopCheckpointer?: () => Promise<void>;
} {
  let sqlite: SqliteDatabase.Database;
  try {
    // SQLite gives its -wal and -shm files the database file's mode, so 0600 here covers all three.
    if (file !== ':memory:') privateFile(join(privateDir(dirname(file)), basename(file)));
    sqlite = new SqliteDatabase(file);
    // busy_timeout first: processes opening one file at once (a node's cluster workers, the WAL
    // checkpointer's connection closing) wait for each other's locks, switching to WAL included,
    // instead of failing with SQLITE_BUSY. WAL: readers never block the writer.
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('journal_mode = WAL');
  } catch (error) {
    throw new FairpatchError(
      'STORAGE_UNAVAILABLE',
      `cannot open SQLite database ${file}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  sqlite.pragma('synchronous = NORMAL');
  sqlite.defaultSafeIntegers(false);
  const dialect = new SqliteDialect({ database: sqlite });
  if (file === ':memory:') return { dialect };
  sqlite.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
  return { dialect, stopCheckpointer: startWalCheckpointer(file) };
}
