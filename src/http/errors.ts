import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { describeDatabaseError, isDatabaseUnavailable } from '../db/errors.js';
import { unavailable } from '../db/monitor.js';
import { FairpatchError } from '../errors.js';

/**
 * Error answers by code since the node's last summary, in this process: its operations log says how
 * many of each per interval. Codes come from one table (src/errors.ts), so the map stays that small.
 */
const refusals = new Map<string, number>();
const refused = (code: string): void => {
  refusals.set(code, (refusals.get(code) ?? 0) + 1);
};

/** The counts since the last call, and a fresh start. */
export function drainRefusals(): Map<string, number> {
  const out = new Map(refusals);
  refusals.clear();
  return out;
}

/** The one place where errors become responses: `{ error: { code, message, details? } }`. */
export function errorResponse(error: unknown, c: Context): Response {
  // A lost or timed-out database connection is an outage, not a bug: 503 and a time to retry.
  if (!(error instanceof FairpatchError) && isDatabaseUnavailable(error))
    error = unavailable(describeDatabaseError(error));
  if (error instanceof FairpatchError) {
    refused(error.code);
    if (error.code === 'RATE_LIMITED' || error.status === 503)
      c.header('Retry-After', String(error.details?.retryAfterSeconds ?? 1));
    return c.json(
      {
        error: {
          code: error.code,
          message: error.message,
          ...(error.details ? { details: error.details } : {}),
        },
      },
      error.status as 400,
    );
  }
  if (error instanceof HTTPException && error.status < 500) {
    refused(error.status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST');
    return c.json(
      {
        error: {
          code: error.status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST',
          message: error.message || 'bad request',
        },
      },
      error.status,
    );
  }
  // Unknown errors are ours: log them, say nothing about internals.
  console.error('unhandled error', error);
  refused('INTERNAL');
  return c.json({ error: { code: 'INTERNAL', message: 'internal error' } }, 500);
}

export function notFound(c: Context): Response {
  refused('NOT_FOUND');
  return c.json(
    { error: { code: 'NOT_FOUND', message: `no route for ${c.req.method} ${c.req.path}` } },
    404,
  );
}
