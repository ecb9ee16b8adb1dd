import type { Context } from 'hono';
import { FairpatchError } from '../errors.js';

/** Decimal digits, no sign, no leading zero, at most 16 digits (also what the OpenAPI document says). */
export const NON_NEGATIVE_INT = /^(0|[1-9]\d{0,15})$/;

/** A non-negative integer query parameter; anything else is a 400 QUERY_INVALID naming it. */
export function intParam(c: Context, name: string, fallback?: number): number {
  const raw = c.req.query(name);
  if (raw === undefined && fallback !== undefined) return fallback;
  if (raw === undefined || !NON_NEGATIVE_INT.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new FairpatchError('QUERY_INVALID', `${name} must be a non-negative integer`);
  }
  return Number(raw);
}
