import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../src/tuf/keys.js';
import { type Envelope, type TargetsSigned, signEnvelope } from '../../src/tuf/metadata.js';
import type { HashedArtifact } from '../../src/publish/build.js';
import { type Fixture, MINUTE, SECOND, createFixture } from '../helpers/repo.js';
import { DIALECTS, freshDatabase } from '../helpers/dialects.js';

describe.each(DIALECTS)('%s', (dialect) => {
  let fx: Fixture;
  let acme: { token: string };
  let other: { token: string };
  let artifact: HashedArtifact;

  beforeAll(async () => {
    fx = await createFixture({ databaseUrl: await freshDatabase(dialect) });
    acme = await fx.addVendor('acme');
    other = await fx.addVendor('other');
    artifact = await fx.artifact('agent.sh', 'echo ok\n');
  });
  afterAll(() => fx.close());

  async function stored() {
    const rows = await fx.node.db
      .selectFrom('vendor_metadata')
      .select(['vendor', 'version'])
      .execute();
    const blobs = await fx.node.db.selectFrom('blobs').select('sha256').execute();
    return { metadata: rows.length, blobs: blobs.length };
  }

  function post(path: string, body: string, token: string | undefined, type = 'application/json') {
    const headers: Record<string, string> = { 'content-type': type };
    if (token) headers.authorization = `Bearer ${token}`;
    return fx.node.app.request(`/api/v1${path}`, { method: 'POST', body, headers });
  }

  const later = () => fx.clock.now() + 2 * MINUTE;
  /** acme's next release of `artifacts`, signed by its key. */
  const release = (artifacts = [artifact], releaseAt = later()) =>
    fx.release('acme', {}, artifacts, releaseAt);
  /** `signed` (a tampered release) signed again by acme's key: only the tampering is wrong. */
  const signedByAcme = (signed: TargetsSigned) =>
    signEnvelope(signed, [fx.vendors.get('acme')!.key]);
  /** POST to acme's metadata route: a document, or raw body text. */
  const postMetadata = (body: Envelope<TargetsSigned> | string, token: string | undefined) =>
    post('/vendors/acme/metadata', typeof body === 'string' ? body : JSON.stringify(body), token);

  interface Case {
    name: string;
    status: number;
    code: string;
    send: () => Response | Promise<Response>;
  }

  const cases: Case[] = [
    {
      name: 'no token',
      status: 401,
      code: 'UNAUTHORIZED',
      send: async () => postMetadata(await release(), undefined),
    },
    {
      name: 'wrong token',
      status: 401,
      code: 'UNAUTHORIZED',
      send: async () => postMetadata(await release(), 'fp_acme_' + 'x'.repeat(43)),
    },
    {
      name: "another vendor's token",
      status: 403,
      code: 'FORBIDDEN',
      send: async () => postMetadata(await release(), other.token),
    },
    {
      name: "another vendor's paths",
      status: 403,
      code: 'FORBIDDEN',
      send: async () => {
        const env = await release([{ ...artifact, name: 'x.sh' }]);
        const targets = Object.fromEntries(
          Object.entries(env.signed.targets).map(([p, t]) => [p.replace('acme/', 'other/'), t]),
        );
        return postMetadata(signedByAcme({ ...env.signed, targets }), acme.token);
      },
    },
    {
      name: '../ in a target path',
      status: 400,
      code: 'PATH_INVALID',
      send: async () => {
        const env = await release();
        const targets = Object.fromEntries(
          Object.values(env.signed.targets).map((t) => ['acme/../other/agent.sh', t]),
        );
        return postMetadata(signedByAcme({ ...env.signed, targets }), acme.token);
      },
    },
    {
      name: 'a signature by a key the delegation does not name',
      status: 422,
      code: 'SIGNATURE_INVALID',
      send: async () =>
        postMetadata(signEnvelope((await release()).signed, [generateKeyPair()]), acme.token),
    },
    {
      name: 'a signature over other content',
      status: 422,
      code: 'SIGNATURE_INVALID',
      send: async () => {
        const env = await release();
        return postMetadata(
          {
            ...env,
            signed: { ...env.signed, version: env.signed.version },
            signatures: env.signatures.map((s) => ({
              ...s,
              sig: s.sig.replace(/^./, (c) => (c === '0' ? '1' : '0')),
            })),
          },
          acme.token,
        );
      },
    },
    {
      name: 'release_at inside the lead time',
      status: 422,
      code: 'RELEASE_TOO_SOON',
      send: async () =>
        postMetadata(await release([artifact], fx.clock.now() + 10 * SECOND), acme.token),
    },
    {
      name: 'an artifact never uploaded',
      status: 422,
      code: 'BLOB_MISSING',
      send: async () =>
        postMetadata(await release([{ ...artifact, sha256: 'ab'.repeat(32) }]), acme.token),
    },
    {
      name: 'a version that skips ahead',
      status: 409,
      code: 'VERSION_CONFLICT',
      send: async () =>
        postMetadata(signedByAcme({ ...(await release()).signed, version: 9 }), acme.token),
    },
    {
      name: 'malformed JSON',
      status: 400,
      code: 'JSON_INVALID',
      send: () => postMetadata('{"signed": ', acme.token),
    },
    {
      name: 'JSON that is not metadata',
      status: 400,
      code: 'METADATA_INVALID',
      send: () => postMetadata('{"signed": {"_type": "targets", "version": 1.5}}', acme.token),
    },
    {
      name: 'a float in signed',
      status: 400,
      code: 'METADATA_INVALID',
      send: async () =>
        postMetadata(
          JSON.stringify(await release()).replace('"length":8', '"length":8.5'),
          acme.token,
        ),
    },
    {
      name: 'the wrong media type',
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      send: () => post('/vendors/acme/metadata', '{}', acme.token, 'text/plain'),
    },
    {
      name: 'an oversized body',
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      send: () => postMetadata(JSON.stringify({ pad: 'x'.repeat(5 * 1024 * 1024) }), acme.token),
    },
    {
      name: 'a bad vendor name in the URL',
      status: 403,
      code: 'FORBIDDEN',
      send: () => post('/vendors/..%2F..%2Fetc/metadata', '{}', acme.token),
    },
    {
      name: 'a blob whose bytes do not match its name',
      status: 422,
      code: 'HASH_MISMATCH',
      send: () =>
        fx.node.app.request(`/api/v1/vendors/acme/blobs/${'cd'.repeat(32)}`, {
          method: 'PUT',
          body: 'not those bytes',
          headers: { authorization: `Bearer ${acme.token}` },
        }),
    },
    {
      name: 'a blob name that is not a hash',
      status: 400,
      code: 'BAD_REQUEST',
      send: () =>
        fx.node.app.request('/api/v1/vendors/acme/blobs/..%2F..%2Fescape', {
          method: 'PUT',
          body: 'x',
          headers: { authorization: `Bearer ${acme.token}` },
        }),
    },
    {
      name: 'a vendor registration without the operator token',
      status: 403,
      code: 'FORBIDDEN',
      send: () => post('/vendors', '{}', acme.token),
    },
  ];

  describe('the publisher API refuses hostile uploads', () => {
    for (const c of cases) {
      it(`${c.name}: ${c.status} ${c.code}, nothing stored`, async () => {
        const before = await stored();
        const response = await c.send();
        expect(response.status).toBe(c.status);
        const body = (await response.json()) as { error: { code: string; message: string } };
        expect(body.error.code).toBe(c.code);
        expect(body.error.message.length).toBeGreaterThan(0);
        expect(await stored()).toEqual(before);
      });
    }

    it('accepts the same upload when it is right (the cases above are refusals, not a broken route)', async () => {
      const response = await postMetadata(await release(), acme.token);
      expect(response.status).toBe(201);
      expect(await response.json()).toMatchObject({ vendor: 'acme', version: 2, kind: 'release' });
    });
  });

  describe('the TUF routes refuse hostile paths', () => {
    for (const [path, status, code] of [
      ['/g/EU WEST/metadata/timestamp.json', 400, 'GROUP_INVALID'],
      ['/g/eu-west/metadata/..%2F..%2Fetc%2Fpasswd', 404, 'NOT_FOUND'],
      ['/metadata/0.root.json', 404, 'NOT_FOUND'],
      ['/metadata/99.root.json', 404, 'NOT_FOUND'],
      ['/metadata/1.nobody.json', 404, 'NOT_FOUND'],
      ['/targets/acme/..%2F..%2Fdata%2Ffairpatch.sqlite', 404, 'NOT_FOUND'],
      [`/targets/acme/${'0'.repeat(64)}.agent.sh`, 404, 'NOT_FOUND'],
    ] as const) {
      it(`${path}: ${status} ${code}`, async () => {
        const response = await fx.node.app.request(path);
        expect(response.status).toBe(status);
        expect(((await response.json()) as { error: { code: string } }).error.code).toBe(code);
      });
    }
  });
});
