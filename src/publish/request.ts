import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { FairpatchError } from '../errors.js';
import { parseJson } from '../common/canonical.js';
import { keyIdOf } from '../tuf/keys.js';
import { type Envelope, type TargetsSigned, assertThreshold } from '../tuf/metadata.js';
import { parseWith, type tufKeySchema } from '../tuf/schema.js';
import {
  type RotationRequest,
  type VendorRequest,
  rotationRequestSchema,
  vendorRequestSchema,
} from '../tuf/vendor-requests.js';

// Requests a vendor sends the operator, out of band (a file): everything the operator needs to
// delegate to the vendor, and nothing the vendor must keep (no private key). Their schemas are the
// node's (src/tuf/vendor-requests.ts).

/**
 * Reads a request file and checks, before the operator signs anything, that the metadata in it is
 * signed by the key it names: a request assembled from someone else's signature is refused here.
 */
export function readRequest<K extends 'initial' | 'metadata'>(
  path: string,
  kind: K,
): K extends 'initial' ? VendorRequest : RotationRequest {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new FairpatchError('NOT_FOUND', `request file ${path} cannot be read`);
  }
  const schema = kind === 'initial' ? vendorRequestSchema : rotationRequestSchema;
  const request = parseWith(
    schema as z.ZodType<Record<string, unknown>>,
    parseJson(bytes, 'JSON_INVALID'),
    'BAD_REQUEST',
  ) as { name: string; public_key: z.infer<typeof tufKeySchema> } & Record<
    K,
    Envelope<TargetsSigned>
  >;
  const keyid = keyIdOf(request.public_key);
  assertThreshold(
    request[kind],
    { keyids: [keyid], threshold: 1 },
    { [keyid]: request.public_key },
    `${request.name} request`,
  );
  return request as unknown as K extends 'initial' ? VendorRequest : RotationRequest;
}
