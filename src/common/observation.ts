import { z } from 'zod';
import { ed25519VerifyBatch } from './ed25519.js';
import { statementKind } from './statement.js';
import { groupName } from './names.js';
import { isoMillis } from './iso-millis.js';
import { signedEnrollmentSchema } from './enrollment.js';
import { canonicalText } from './canonical.js';
import { FULL_BP, MAX_STAGES } from './rollout-plan.js';

// The evidence an agent signs: what it was served, when, in which group, through which path. The
// agent's signature binds the group and the times to the server-signed document, so nobody between
// the agent and the auditor (an edge, the operator, another client) can re-label or alter it, only
// drop it. Shared by the agent (signs), the server and witnesses (verify, log) and the auditor.

const HEX = (n: number) => z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`));
export { isoMillis } from './iso-millis.js';

/**
 * One run of polls that were all served the same timestamp document (by its sha256): agents poll
 * every few seconds, and a run keeps that compact while still saying "served this, from then to then".
 */
export const observationSchema = z.strictObject({
  v: z.literal(1),
  /** The agent's Ed25519 public key, hex: the signer. */
  agent: HEX(64),
  group: groupName,
  /** sha256 of the canonical bytes of the timestamp document served. */
  document: HEX(64),
  first_at: isoMillis,
  last_at: isoMillis,
  polls: z.number().int().min(1).max(1_000_000),
  /** Which path served it: the group path, the plain path or another server (an origin URL). */
  via: z.string().min(1).max(200),
  /** The push for the document's tick arrived (true), was expected but missing (false), or no stream (absent). */
  pushed: z.boolean().optional(),
  /** How far behind its own clock the agent found this document when it first got it, ms. */
  lag_ms: z.number().int().min(-86_400_000).max(Number.MAX_SAFE_INTEGER),
  /** Paths tried first that did not answer (5xx, unreachable) before this one did: an outage for this group. */
  path_failures: z
    .array(z.strictObject({ via: z.string().max(200), error: z.string().max(200), at: isoMillis }))
    .max(8)
    .optional(),
  /** Artifacts of a release this document carries that could not be downloaded, with the last error. */
  artifact_failures: z
    .array(
      z.strictObject({ target: z.string().max(200), error: z.string().max(200), at: isoMillis }),
    )
    .max(16)
    .optional(),
  /**
   * The repository's log checkpoint (a C2SP signed note, cosignatures included) last served to the
   * agent during this run, base64 (a note's newlines have no canonical JSON form that JSON parsers
   * read back): the auditor holds it against the log it verified (a split view).
   */
  checkpoint: z
    .string()
    .max(4096)
    .regex(/^[A-Za-z0-9+/]*={0,2}$/)
    .optional(),
  /**
   * A staged release the agent weighed during this run (src/agent/rollout-gate.ts): the stage it
   * computed from the signed plan and tick (-1: before the release's tick), that stage's share, and
   * whether its own cohort was in; the checkpoint size its salt came from, when it drew one; and,
   * once it tried, how the install went.
   */
  rollout: z
    .strictObject({
      release: z.string().min(1).max(200),
      stage: z.number().int().min(-1).max(MAX_STAGES),
      percent_bp: z.number().int().min(0).max(FULL_BP),
      eligible: z.boolean(),
      salt_checkpoint: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
      /** How the install the agent was eligible for went (its signed install report says the same). */
      outcome: z.enum(['installed', 'failed']).optional(),
    })
    .optional(),
});
export type Observation = z.infer<typeof observationSchema>;

export const signedObservationSchema = z.strictObject({
  observation: observationSchema,
  sig: HEX(128),
});
export type SignedObservation = z.infer<typeof signedObservationSchema>;

/** `POST /receipts` (server and witness): signed observations and the documents they name. */
export const receiptBatchSchema = z.strictObject({
  /** Timestamp documents by sha256 of their canonical bytes; the receiver checks each digest. */
  documents: z.record(HEX(64), z.record(z.string(), z.unknown())),
  receipts: z.array(signedObservationSchema).min(1).max(1000),
  /** The owners' certificates of the agents that signed (src/common/enrollment.ts): at most one each. */
  enrollments: z.array(signedEnrollmentSchema).max(1000).optional(),
});
export type ReceiptBatch = z.infer<typeof receiptBatchSchema>;

/** Domain separated: an observation signature can never be mistaken for any other signed thing. */
const kind = statementKind<Observation>('fairpatch observation v1', (o) => o.agent);

export function signObservation(observation: Observation, seed: Uint8Array): SignedObservation {
  return { observation, sig: kind.sign(observation, seed) };
}

export function verifyObservation(signed: SignedObservation): boolean {
  return kind.verify(signed.observation, signed.sig);
}

/** `verifyObservation` for many at once, on every core (one verdict per observation, in order). */
export async function verifyObservations(signed: readonly SignedObservation[]): Promise<boolean[]> {
  return (await verifyObservationsCanonical(signed)).valid;
}

/**
 * `verifyObservations`, also giving each observation's canonical text (what its signature covers,
 * after the context line): a log that stores the observation can reuse it instead of encoding again.
 */
export async function verifyObservationsCanonical(
  signed: readonly SignedObservation[],
): Promise<{ valid: boolean[]; canonical: string[] }> {
  const canonical = signed.map((s) => canonicalText(s.observation));
  const valid = await ed25519VerifyBatch(
    signed.map((s, i) => ({
      publicKey: Buffer.from(s.observation.agent, 'hex'),
      message: Buffer.concat([kind.prefix, Buffer.from(canonical[i] as string, 'utf8')]),
      signature: Buffer.from(s.sig, 'hex'),
    })),
  );
  return { valid, canonical };
}
