import { z } from 'zod';
import { parseJson } from '../common/canonical.js';
import { FairpatchError } from '../errors.js';
import { parseCheckpoint } from '../log/checkpoint.js';
import { MAX_LEAF_BYTES } from '../log/limits.js';
import { parseLeaf } from '../log/leaves.js';
import { leafHash, verifyInclusion } from '../log/merkle.js';
import type { Verifier } from '../log/note.js';
import { type Salt, deriveSalt } from './salt.js';

// The client's side of `GET /log/rollout-salt`: nothing the node says is taken on trust. The leaf
// must be a release activation whose logged vendor metadata carries the target exactly as TUF
// verified it, each checkpoint must be signed by the log key and include the leaf, and the salt
// comes from the first of them that every pinned witness cosigned (./salt.ts).

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

export const saltEvidenceSchema = z.strictObject({
  target: z.string().max(200),
  leaf_index: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  leaf: z.string().max(MAX_LEAF_BYTES),
  checkpoints: z
    .array(z.strictObject({ note: z.string().max(65_536), proof: z.array(hex64).max(64) }))
    .min(1)
    .max(9),
});
export type SaltEvidenceBody = z.infer<typeof saltEvidenceSchema>;

export interface VerifiedSalt extends Salt {
  /** The activation leaf's index: the release entered the log there. */
  leafIndex: number;
  /** The vendor metadata version that first carried the target. */
  metadataVersion: number;
}

const invalid = (message: string): never => {
  throw new FairpatchError('PROOF_INVALID', message);
};

export function verifySaltEvidence(input: {
  body: unknown;
  release: string;
  /** The target's path and its sha256, as TUF verified them. */
  target: { path: string; sha256: string };
  log: Verifier | readonly Verifier[];
  witnesses: readonly Verifier[];
}): VerifiedSalt {
  const parsed = saltEvidenceSchema.safeParse(input.body);
  if (!parsed.success)
    return invalid(`salt evidence: ${parsed.error.issues[0]?.message ?? 'malformed'}`);
  const evidence = parsed.data;
  const bytes = Buffer.from(evidence.leaf, 'utf8');
  const leaf = parseLeaf(bytes);
  if (leaf.type !== 'release.activated' || leaf.v !== 2)
    return invalid('salt evidence: the leaf is not a release activation');
  const metadata = parseJson(Buffer.from(leaf.metadata, 'utf8'), 'JSON_INVALID') as {
    signed?: { targets?: Record<string, { hashes?: { sha256?: string } }> };
  };
  const logged = metadata.signed?.targets?.[input.target.path];
  if (!logged || logged.hashes?.sha256 !== input.target.sha256)
    return invalid(`salt evidence: the activation does not carry ${input.target.path} as verified`);
  const hash = leafHash(bytes);
  let lastError: unknown;
  for (const { note, proof } of evidence.checkpoints) {
    const split = note.lastIndexOf('\n\n');
    if (split < 0) return invalid('salt evidence: a checkpoint is not a signed note');
    const checkpoint = parseCheckpoint(note.slice(0, split + 1));
    verifyInclusion(
      evidence.leaf_index,
      checkpoint.size,
      hash,
      proof.map((p) => Buffer.from(p, 'hex')),
      checkpoint.rootHash,
    );
    try {
      const salt = deriveSalt({
        release: input.release,
        note,
        log: input.log,
        witnesses: input.witnesses,
      });
      return { ...salt, leafIndex: evidence.leaf_index, metadataVersion: leaf.metadata_version };
    } catch (error) {
      // Not every witness has cosigned this one: the next may be. Anything else is a lie.
      if (!(error instanceof FairpatchError) || error.details?.uncosigned === undefined)
        throw error;
      lastError = error;
    }
  }
  throw new FairpatchError(
    'NOT_READY',
    `no checkpoint holding ${input.target.path} is cosigned by every pinned witness yet`,
    { cause: lastError },
  );
}
