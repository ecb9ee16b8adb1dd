import { Hono } from 'hono';
import type { ReceiptIntake } from '../../receipts/intake.js';
import { readJson } from '../body.js';

/** `POST /api/v1/receipts`: agents hand in the signed statements they were served. */
export function receiptRoutes(deps: { intake: ReceiptIntake; maxJsonBytes: number }): Hono {
  const app = new Hono();
  app.post('/receipts', async (c) => c.json(await deps.intake.submit(await readJson(c, deps.maxJsonBytes)), 201));
  return app;
}
