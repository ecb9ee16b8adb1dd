import { Hono } from 'hono';
import { FairpatchError } from '../errors.js';
import { cutShort } from '../http/body.js';
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
    if (Number(c.req.header('content-length') ?? 0) > maxBytes)
      throw new FairpatchError('PAYLOAD_TOO_LARGE', `body exceeds ${maxBytes} bytes`);
    let body: string;
    try {
      body = await c.req.text();
    } catch (error) {
      throw cutShort(c, error);
    }
    if (body.length > maxBytes)
      throw new FairpatchError('PAYLOAD_TOO_LARGE', `body exceeds ${maxBytes} bytes`);
    const result = await witness.add(body);
    if (result.kind === 'size-mismatch')
      return c.text(`${result.size}\n`, 409, { 'Content-Type': 'text/x.tlog.size' });
    return c.text(result.lines, 200);
  });
  return app;
}
