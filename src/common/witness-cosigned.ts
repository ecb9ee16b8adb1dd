import { z } from 'zod';
import { leafJsonBytes } from './canonical.js';
import { isoMillis } from './iso-millis.js';

// A witness's public cosigning history: each log checkpoint it cosigns is a leaf of its own log,
// written before the cosignature leaves the witness. A staged release's lottery salt comes from the
// witnesses' cosignatures on the first checkpoint holding the release's activation
// (src/rollout/salt.ts); with this history an operator that obtained cosignatures on that
// checkpoint, disliked the salt and served a later one is caught by the auditor
// (src/audit/salt-history.ts). The witness cosigns only growing checkpoints of a log, and the same
// one asked again gets the same line (no new leaf): one leaf per log size it accepts.

/** A signed checkpoint note's bytes, as the log sent them (the witness's request body bound). */
const MAX_CHECKPOINT_CHARS = 65_536;

export const witnessCosignedLeafSchema = z.strictObject({
  type: z.literal('witness.cosigned'),
  v: z.literal(1),
  cosigned_at: isoMillis,
  /** The log's origin line, its tree size and root hash (hex): what the checkpoint text says. */
  origin: z.string().max(1024),
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  root: z.string().regex(/^[0-9a-f]{64}$/),
  /** The checkpoint note exactly as the log signed and submitted it. */
  checkpoint: z.string().max(MAX_CHECKPOINT_CHARS),
  /** The witness's C2SP cosignature line on that checkpoint, as it answered it. */
  cosignature: z.string().max(1024),
});
export type WitnessCosignedLeaf = z.infer<typeof witnessCosignedLeafSchema>;

/** The leaf's bytes (canonical JSON, as every witness leaf). */
export function witnessCosignedLeafBytes(entry: Omit<WitnessCosignedLeaf, 'type' | 'v'>): Buffer {
  return leafJsonBytes({ type: 'witness.cosigned', v: 1, ...entry });
}

/** One leaf per (log, size): a repeat of the same checkpoint is answered from the one logged. */
export const witnessCosignedDedupe = (origin: string, size: number): string =>
  `cosigned:${size}:${origin}`;
