import { Hono } from 'hono';
import type { ReceiptIntake } from '../../receipts/intake.js';
import { readJsonText } from '../body.js';

/** `POST /api/v1/receipts`: agents hand in the signed statements they were served. */
export function receiptRoutes(deps: {
  intake: ReceiptIntake;
  maxJsonBytes: number;
  onOutcome?: (outcome: 'accepted' | 'refused', receipts: number) => void;
}): Hono {
  const app = new Hono();
  app.post('/receipts', async (c) => {
    let result: Awaited<ReturnType<ReceiptIntake['submit']>>;
    try {
      result = await deps.intake.submit(await readJsonText(c, deps.maxJsonBytes));
    } catch (error) {
      deps.onOutcome?.('refused', 0);
      throw error;
    }
    deps.onOutcome?.('accepted', result.accepted);
    return c.json(result, 201);
  });
  return app;
}
