import { z } from 'zod';
import { FairpatchError } from '../errors.js';
import { openCheckpoint } from '../log/checkpoint.js';
import { MAX_LEAF_BYTES } from '../log/limits.js';
import { parseLeaf } from '../log/leaves.js';
import { leafHash, verifyInclusion } from '../log/merkle.js';
import type { Verifier } from '../log/note.js';
import type { RolloutAction } from './stages.js';

// The client's side of `GET /log/rollout-pauses?release=`: the node's automatic pause of a staged
// release (./auto-pause.ts), as a leaf proven into a checkpoint the log key signed. An agent replays
// it as a pause at its tick, as it replays the vendor's; whether the pause was justified is the
// auditor's recount. A node that hides a pause from one group has that group sign later stages than
// were open for everyone, which the auditor finds (rollout-stage-ahead).

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

export const pauseEvidenceSchema = z.strictObject({
  release: z.string().max(300),
  pauses: z
    .array(
      z.strictObject({
        leaf_index: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
        leaf: z.string().max(MAX_LEAF_BYTES),
        checkpoint: z.string().max(65_536),
        proof: z.array(hex64).max(64),
      }),
    )
    .max(1),
});
export type PauseEvidenceBody = z.infer<typeof pauseEvidenceSchema>;

/** The most a client reads of pause evidence: one leaf, JSON-escaped, and its proof. */
export const MAX_PAUSE_EVIDENCE_BYTES = 2 * MAX_LEAF_BYTES + 64 * 1024;

const invalid = (message: string): never => {
  throw new FairpatchError('PROOF_INVALID', message);
};

/** The pauses the body proves for `release`; throws PROOF_INVALID on anything not proven. */
export function verifyPauseEvidence(input: {
  body: unknown;
  release: string;
  log: Verifier | readonly Verifier[];
}): RolloutAction[] {
  const parsed = pauseEvidenceSchema.safeParse(input.body);
  if (!parsed.success)
    return invalid(`pause evidence: ${parsed.error.issues[0]?.message ?? 'malformed'}`);
  const actions: RolloutAction[] = [];
  for (const p of parsed.data.pauses) {
    const bytes = Buffer.from(p.leaf, 'utf8');
    const leaf = parseLeaf(bytes);
    if (leaf.type !== 'rollout.auto-paused' || leaf.release !== input.release)
      return invalid(`pause evidence: the leaf is not an automatic pause of ${input.release}`);
    const checkpoint = openCheckpoint(p.checkpoint, input.log);
    verifyInclusion(
      p.leaf_index,
      checkpoint.size,
      leafHash(bytes),
      p.proof.map((h) => Buffer.from(h, 'hex')),
      checkpoint.rootHash,
    );
    actions.push({ action: 'pause', tick: leaf.tick });
  }
  return actions;
}
