import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../src/http/openapi.js';
import {
  buildKeyRotation,
  buildRegistration,
  buildRotationRequest,
  buildVendorRequest,
} from '../../src/publish/build.js';
import { generateKeyPair } from '../../src/tuf/keys.js';
import {
  registrationSchema,
  rotationRequestSchema,
  rotationSchema,
  vendorRequestSchema,
} from '../../src/tuf/vendor-requests.js';

// The vendor's request and rotation are wire formats three parties read: the vendor's side writes
// them (src/publish), a node accepts them (src/release), the OpenAPI document describes them
// (src/http/openapi.ts). Written once (src/tuf/vendor-requests.ts), they cannot drift apart.

const SRC = resolve(new URL('../../src', import.meta.url).pathname);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : name.endsWith('.ts') ? [path] : [];
  });
}

type JsonSchema = {
  properties: Record<string, unknown>;
  required: string[];
  additionalProperties?: boolean;
};

/** The request body the OpenAPI document gives `POST path`. */
function documented(path: string): JsonSchema {
  const doc = JSON.parse(openApiDocument()) as {
    paths: Record<
      string,
      { post: { requestBody: { content: Record<string, { schema: JsonSchema }> } } }
    >;
  };
  return doc.paths[path]!.post.requestBody.content['application/json']!.schema;
}

describe('wire schemas of vendor requests, defined once', () => {
  it('no zod object outside src/tuf/vendor-requests.ts spells out a vendor key request', () => {
    // A vendor request's mark: the key it asks to be delegated to, as a TUF key.
    const spelled = sources(SRC)
      .filter((file) => /public_key:\s*tufKeySchema/.test(readFileSync(file, 'utf8')))
      .map((file) => relative(SRC, file));
    expect(spelled).toEqual(['tuf/vendor-requests.ts']);
  });

  it('the request file, the call the node accepts and the OpenAPI document name the same fields', () => {
    const registration = documented('/api/v1/vendors');
    const fields = [...Object.keys(vendorRequestSchema.shape), 'top_targets'].sort();
    expect(Object.keys(registrationSchema.shape).sort()).toEqual(fields);
    expect(Object.keys(registration.properties).sort()).toEqual(fields);
    expect([...registration.required].sort()).toEqual(fields);
    expect(registration.additionalProperties).toBe(false);

    const rotation = documented('/api/v1/vendors/{vendor}/key');
    const rotated = [
      ...Object.keys(rotationRequestSchema.shape).filter((k) => k !== 'name'),
      'top_targets',
    ].sort();
    expect(Object.keys(rotationSchema.shape).sort()).toEqual(rotated);
    expect(Object.keys(rotation.properties).sort()).toEqual(rotated);
    expect(rotation.additionalProperties).toBe(false);
  });

  it("what the vendor's side builds, the node's schemas take, and nothing more", () => {
    const vendorKey = generateKeyPair();
    const targetsKey = generateKeyPair();
    const now = Date.parse('2026-01-01T00:00:00Z');
    const request = buildVendorRequest({ name: 'acme', vendorKey, now });
    expect(vendorRequestSchema.safeParse(request).success).toBe(true);
    const body = buildRegistration({
      name: 'acme',
      vendorKey,
      targetsKey,
      previousTop: undefined,
      now,
    });
    expect(registrationSchema.safeParse(body).success).toBe(true);
    expect(registrationSchema.safeParse({ ...body, extra: 1 }).success).toBe(false);

    const newKey = generateKeyPair();
    const previous = request.initial.signed;
    const previousTop = body.top_targets.signed;
    const rotationRequest = buildRotationRequest({ name: 'acme', newKey, previous, now });
    expect(rotationRequestSchema.safeParse(rotationRequest).success).toBe(true);
    const rotationBody = buildKeyRotation({
      name: 'acme',
      newKey,
      targetsKey,
      previousTop,
      previous,
      now,
    });
    expect(rotationSchema.safeParse(rotationBody).success).toBe(true);
    expect(rotationSchema.safeParse({ ...rotationBody, name: 'acme' }).success).toBe(false);
  });
});
