/** True for a primary-key/unique violation on either dialect (SQLite and PostgreSQL 23505). */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code } = error as { code?: unknown };
  return (
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === '23505'
  );
}

/** True when a transaction lost a race and may simply be retried (SQLite busy/snapshot, PostgreSQL 40001/40P01). */
export function isRetryableConflict(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code } = error as { code?: unknown };
  return (
    typeof code === 'string' &&
    (code.startsWith('SQLITE_BUSY') || code === '40001' || code === '40P01')
  );
}

// Network-level failures (Node's socket errors) and the driver's own words for a lost or timed-out connection.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);
const DRIVER_MESSAGES = [
  /^Connection terminated/,
  /^Query read timeout$/,
  /^timeout exceeded when trying to connect$/,
  /is not queryable/,
  /^Client was closed and is not queryable$/,
  /^Cannot use a pool after calling end/,
];

/**
 * True when an error means "the database is away", not "the request is wrong": socket errors, the
 * driver's lost-connection and timeout errors, and PostgreSQL's SQLSTATE classes 08 (connection
 * exception) and 57P (operator intervention: shutdown, terminate), plus 57014 (statement timeout)
 * and 53300 (too many connections). Such errors are retryable by the caller.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  if (error instanceof AggregateError) return error.errors.some(isDatabaseUnavailable);
  const { code, message, cause } = error as { code?: unknown; message?: unknown; cause?: unknown };
  if (
    typeof code === 'string' &&
    (NETWORK_CODES.has(code) ||
      code.startsWith('08') ||
      code.startsWith('57P') ||
      code === '57014' ||
      code === '53300')
  )
    return true;
  if (typeof message === 'string' && DRIVER_MESSAGES.some((m) => m.test(message))) return true;
  return cause !== undefined && cause !== error && isDatabaseUnavailable(cause);
}

/** One line naming the cause, e.g. `connect ECONNREFUSED 127.0.0.1:5432` (all addresses tried, for a name that resolves to several). */
export function describeDatabaseError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0)
    return [...new Set(error.errors.map(describeDatabaseError))].join('; ');
  if (typeof error !== 'object' || error === null) return String(error);
  const { message, code, address, port, cause } = error as {
    message?: unknown;
    code?: unknown;
    address?: unknown;
    port?: unknown;
    cause?: unknown;
  };
  let text =
    typeof message === 'string' && message
      ? message
      : typeof code === 'string'
        ? code
        : 'unknown error';
  if (typeof code === 'string' && !text.includes(code)) text = `${code} ${text}`;
  if (typeof address === 'string' && !text.includes(address))
    text += ` ${address}${typeof port === 'number' ? `:${port}` : ''}`;
  if (cause !== undefined && cause !== error && typeof cause === 'object')
    text += ` (${describeDatabaseError(cause)})`;
  return text.replace(/\s+/g, ' ').trim();
}
