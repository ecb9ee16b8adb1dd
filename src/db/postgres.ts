import pg from 'pg';
import { PostgresDialect } from 'kysely';

const INT8_OID = 20;

export interface PostgresOptions {
  url: string;
  /** Longest wait for a new connection (TCP connect and start-up). */
  connectTimeoutMs: number;
  /** Connections kept at most. */
  poolSize: number;
  /** Longest statement: the server cancels it (statement_timeout), and the client gives up shortly after (query_timeout). */
  statementTimeoutMs: number;
  /** Told about connection errors outside any query (an idle connection terminated, the server gone). */
  onConnectionError?: (error: Error) => void;
}

/**
 * PostgreSQL for several nodes. int8 columns (our millisecond times, versions, indices) come back as
 * numbers, as they do from SQLite: every value we store is below 2^53. The parser is set on this
 * pool only, not globally on `pg`. The pool's bounds are the caller's settings (a node's, a
 * witness's), passed in: this folder sits below the servers and knows none of their defaults.
 *
 * The pool outlives the server: a connection that dies (server stopped, backend terminated) is
 * reported to `onConnectionError` and dropped, and the next query opens a new one. Without the
 * listeners, `pg` re-emits such errors as unhandled 'error' events, which end the process.
 */
export function postgresDialect(options: PostgresOptions): PostgresDialect {
  const types = {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === INT8_OID
        ? (value: string) => Number(value)
        : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
  };
  const statementTimeout = options.statementTimeoutMs;
  const report = options.onConnectionError ?? (() => {});
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    types,
    connectionTimeoutMillis: options.connectTimeoutMs,
    statement_timeout: statementTimeout,
    // A frozen server never answers, so statement_timeout never fires: the client stops waiting too.
    query_timeout: statementTimeout + 2000,
    // An upload's transaction waits on the uploader between chunks: a stalled one must not hold a connection forever.
    idle_in_transaction_session_timeout: 60_000,
    keepAlive: true,
    idleTimeoutMillis: 30_000,
  });
  // Idle connections that die are removed by the pool, which then emits 'error' here.
  pool.on('error', report);
  pool.on('connect', (client) => guard(client, report));
  return new PostgresDialect({ pool });
}

/**
 * A checked-out connection has no pool listener: its 'error' events need one of ours. A query that
 * timed out on the client side leaves its connection mid-protocol (possibly inside a transaction), so
 * the connection is closed rather than returned to the pool and reused.
 */
function guard(client: pg.PoolClient, report: (error: Error) => void): void {
  client.on('error', report);
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = (...args: unknown[]): unknown => {
    const result = query(...args);
    if (result instanceof Promise) {
      result.catch((error: unknown) => {
        if (error instanceof Error && error.message === 'Query read timeout')
          (
            client as unknown as { connection?: { stream?: { destroy(): void } } }
          ).connection?.stream?.destroy();
      });
    }
    return result;
  };
}
