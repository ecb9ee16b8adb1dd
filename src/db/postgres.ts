import pg from 'pg';
import { PostgresDialect } from 'kysely';

const INT8_OID = 20;

/**
 * PostgreSQL for several nodes. int8 columns (our millisecond times, versions, indices)
 * come back as numbers, as they do from SQLite: every value we store is below 2^53. The parser is
 * set on this pool only, not globally on `pg`.
 */
export function postgresDialect(url: string): PostgresDialect {
  const types = {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
  };
  return new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 10, types }) });
}
