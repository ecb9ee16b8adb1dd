import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

/** Every storage and integration test runs on both. */
export const DIALECTS = ['sqlite', 'postgres'] as const;
export type Dialect = (typeof DIALECTS)[number];

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}

/**
 * A database URL for a fresh, empty database of `dialect`: undefined for SQLite (the fixture puts a
 * file in its data dir), a new database on the run's PostgreSQL cluster (or DATABASE_URL's server).
 */
export async function freshDatabase(dialect: Dialect): Promise<string | undefined> {
  if (dialect === 'sqlite') return undefined;
  const admin = inject('postgresUrl');
  const name = `fp_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}
