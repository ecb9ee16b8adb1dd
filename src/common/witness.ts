import { z } from 'zod';
import { isoMillis, signedObservationSchema } from './observation.js';
import { signedEnrollmentSchema } from './enrollment.js';

// What a witness logs and answers, shared by the witness (writes), agents (check their receipts were
// logged) and auditors (read them back). A witness is a second, independent log of agents' signed
// observations: an operator that swallows receipts cannot also swallow them at a witness it does not run.

/**
 * One leaf of a witness's own log: one agent-signed observation and when the witness received it.
 * The timestamp document it names is not in the leaf: the observation's signature covers its sha256,
 * so the document is content-addressed and served beside the leaves.
 */
export const witnessLeafSchema = z.strictObject({
  type: z.literal('witness.receipt'),
  v: z.literal(1),
  received_at: isoMillis,
  receipt: signedObservationSchema,
});
export type WitnessLeaf = z.infer<typeof witnessLeafSchema>;

/**
 * A leaf of a witness's log holding an owner's certificate of an agent key that sent it receipts
 * (src/common/enrollment.ts): an operator that swallows a group's receipts and certificates cannot
 * keep the auditor from learning, through the witness, that those agents were vouched for.
 */
export const witnessEnrollmentLeafSchema = z.strictObject({
  type: z.literal('witness.enrollment'),
  v: z.literal(1),
  received_at: isoMillis,
  enrollment: signedEnrollmentSchema,
});

/** `POST /receipts` on a witness: where each receipt sits in its log, and the checkpoint covering them. */
export const witnessAckSchema = z.strictObject({
  accepted: z.number().int().min(0),
  /** Receipts already in the log (a retry): acknowledged with their existing index, not logged again. */
  replayed: z.number().int().min(0),
  /** Each receipt's leaf, its index and its RFC 9162 inclusion proof (hex) in the checkpoint's tree. */
  entries: z.array(
    z.strictObject({
      sig: z.string(),
      index: z.number().int().min(0),
      leaf: z.string(),
      proof: z.array(z.string().regex(/^[0-9a-f]{64}$/)).max(64),
    }),
  ),
  /** A signed note (C2SP tlog-checkpoint) whose tree includes every entry above. */
  checkpoint: z.string(),
});
export type WitnessAck = z.infer<typeof witnessAckSchema>;

/** `GET /receipts?group=&after=N` on a witness: one page of logged receipts, oldest first. */
export const witnessPageSchema = z.strictObject({
  entries: z.array(z.strictObject({ index: z.number().int().min(0), leaf: z.string() })),
  documents: z.record(z.string(), z.unknown()),
  /** Pass as `after` for the next page; absent when this page reached the log's end. */
  next: z.number().int().min(0).optional(),
  size: z.number().int().min(0),
});
export type WitnessPage = z.infer<typeof witnessPageSchema>;

/** The origin line of a witness's own log (C2SP tlog-checkpoint), and the name its key signs with. */
export const witnessOrigin = (name: string): string => `witness/${name}`;
