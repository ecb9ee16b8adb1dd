import { z } from 'zod';
import type { Envelope, TargetsSigned } from './metadata.js';
import { tufKeySchema, vendorName, vendorTargetsSchema } from './schema.js';

// A vendor's requests and the operator's calls that carry them to a node, defined once: the vendor's
// side (src/publish) writes and reads them, a node (src/release) accepts them, and the OpenAPI
// document (src/http/openapi.ts) describes them, all from these schemas. A field added here is a
// field of the request file, of the call, and of the document at once.

/** A vendor's request to be registered (a file, out of band): no private key, nothing to keep secret. */
export const vendorRequestSchema = z.strictObject({
  name: vendorName,
  public_key: tufKeySchema,
  initial: vendorTargetsSchema,
});

/** A vendor's request for a new key: its targets re-signed by that key. */
export const rotationRequestSchema = z.strictObject({
  name: vendorName,
  public_key: tufKeySchema,
  metadata: vendorTargetsSchema,
});

/** The operator's new top-level targets, delegating to the vendor's key (checked as TUF by the node). */
const topTargetsEnvelope = z.strictObject({
  signed: z.record(z.string(), z.unknown()),
  signatures: z
    .array(z.strictObject({ keyid: z.string(), sig: z.string() }))
    .min(1)
    .max(16),
});

/** `POST /api/v1/vendors`: a vendor's request plus the operator's new top-level targets delegating to it. */
export const registrationSchema = vendorRequestSchema.extend({ top_targets: topTargetsEnvelope });

/** `POST /api/v1/vendors/<vendor>/key`: the new key, the targets re-signed by it, the new delegation. */
export const rotationSchema = rotationRequestSchema
  .omit({ name: true })
  .extend({ top_targets: topTargetsEnvelope });

export type VendorRequest = Omit<z.infer<typeof vendorRequestSchema>, 'initial'> & {
  initial: Envelope<TargetsSigned>;
};
export type RotationRequest = Omit<z.infer<typeof rotationRequestSchema>, 'metadata'> & {
  metadata: Envelope<TargetsSigned>;
};
