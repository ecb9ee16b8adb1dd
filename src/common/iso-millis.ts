import { z } from 'zod';

/** ISO 8601 UTC with milliseconds, as Date#toISOString writes it; and a real date (no 2026-99-99). */
export const isoMillis = z
  .string()
  .regex(
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/,
    'an ISO 8601 UTC time such as 2026-11-23T10:00:00.000Z',
  )
  .refine((s) => {
    const ms = Date.parse(s);
    return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 19) === s.slice(0, 19);
  }, 'not a real date');
