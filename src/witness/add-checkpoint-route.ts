import { Hono } from 'hono';
import { readBodyText } from '../http/body.js';
import type { CheckpointWitness } from './checkpoints.js';

/**
 * `POST /add-checkpoint` (C2SP tlog-witness): 200 with the cosignature line; 409 `text/x.tlog.size`
 * with the size this witness holds when the old size is not it; 409 CHECKPOINT_CONFLICT (a fork) or
 * 422 PROOF_INVALID with the evidence; 403 for a signature it does not trust; 404 for an unknown log.
 */
export function addCheckpointRoutes(
  witness: CheckpointWitness,
  /** A request is a size line, at most 63 proof lines and a checkpoint note: a few KB. */
  maxBytes: number,
): Hono {
  const app = new Hono();
  app.post('/add-checkpoint', async (c) => {
    // Read no further than the limit, whatever the request declares (or leaves out: chunked).
    const result = await witness.add(await readBodyText(c, maxBytes));
    if (result.kind === 'size-mismatch')
      return c.text(`${result.size}\n`, 409, { 'Content-Type': 'text/x.tlog.size' });
    return c.text(result.lines, 200);
  });
  return app;
}
