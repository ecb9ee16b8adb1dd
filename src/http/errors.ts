import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { describeDatabaseError, isDatabaseUnavailable } from '../db/errors.js';
import { unavailable } from '../db/monitor.js';
import { FairpatchError } from '../errors.js';

/** The one place where errors become responses: `{ error: { code, message, details? } }`. */
export function errorResponse(error: unknown, c: Context): Response {
  // A lost or timed-out database connection is an outage, not a bug: 503 and a time to retry.
  if (!(error instanceof FairpatchError) && isDatabaseUnavailable(error))
    error = unavailable(describeDatabaseError(error));
  if (error instanceof FairpatchError) {
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
  return c.json({ error: { code: 'INTERNAL', message: 'internal error' } }, 500);
}

export function notFound(c: Context): Response {
  return c.json(
    { error: { code: 'NOT_FOUND', message: `no route for ${c.req.method} ${c.req.path}` } },
    404,
  );
}
