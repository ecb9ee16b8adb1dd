import { Hono } from 'hono';
import type { ReceiptIntake } from '../../receipts/intake.js';
import { readJsonText } from '../body.js';

/**
 * `POST /receipts`: agents hand in the signed statements they were served (201 once logged). The
 * same route at a node (`/api/v1/receipts`) and at a witness: one intake, its own ledger.
 */
export function receiptRoutes<Answer extends { accepted: number }>(deps: {
  intake: ReceiptIntake<Answer>;
  maxJsonBytes: number;
  onOutcome?: (outcome: 'accepted' | 'refused', receipts: number) => void;
}): Hono {
  const app = new Hono();
  app.post('/receipts', async (c) => {
    let result: Answer;
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
