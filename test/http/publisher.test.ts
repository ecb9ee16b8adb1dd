import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../src/tuf/keys.js';
import { signEnvelope } from '../../src/tuf/metadata.js';
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
      send: async () =>
        post(
          '/vendors/acme/metadata',
          JSON.stringify(await fx.release('acme', {}, [artifact], later())),
          undefined,
        ),
    },
    {
      name: 'wrong token',
      status: 401,
      code: 'UNAUTHORIZED',
      send: async () =>
        post(
          '/vendors/acme/metadata',
          JSON.stringify(await fx.release('acme', {}, [artifact], later())),
          'fp_acme_' + 'x'.repeat(43),
        ),
    },
    {
      name: "another vendor's token",
      status: 403,
      code: 'FORBIDDEN',
      send: async () =>
        post(
          '/vendors/acme/metadata',
          JSON.stringify(await fx.release('acme', {}, [artifact], later())),
          other.token,
        ),
    },
    {
      name: "another vendor's paths",
      status: 403,
      code: 'FORBIDDEN',
      send: async () => {
        const env = await fx.release('acme', {}, [{ ...artifact, name: 'x.sh' }], later());
        const targets = Object.fromEntries(
          Object.entries(env.signed.targets).map(([p, t]) => [p.replace('acme/', 'other/'), t]),
        );
        return post(
          '/vendors/acme/metadata',
          JSON.stringify(signEnvelope({ ...env.signed, targets }, [fx.vendors.get('acme')!.key])),
          acme.token,
        );
      },
    },
    {
      name: '../ in a target path',
      status: 400,
      code: 'PATH_INVALID',
      send: async () => {
        const env = await fx.release('acme', {}, [artifact], later());
        const targets = Object.fromEntries(
          Object.values(env.signed.targets).map((t) => ['acme/../other/agent.sh', t]),
        );
        return post(
          '/vendors/acme/metadata',
          JSON.stringify(signEnvelope({ ...env.signed, targets }, [fx.vendors.get('acme')!.key])),
          acme.token,
        );
      },
    },
    {
      name: 'a signature by a key the delegation does not name',
      status: 422,
      code: 'SIGNATURE_INVALID',
      send: async () => {
        const env = await fx.release('acme', {}, [artifact], later());
        return post(
          '/vendors/acme/metadata',
          JSON.stringify(signEnvelope(env.signed, [generateKeyPair()])),
          acme.token,
        );
      },
    },
    {
      name: 'a signature over other content',
      status: 422,
      code: 'SIGNATURE_INVALID',
      send: async () => {
        const env = await fx.release('acme', {}, [artifact], later());
        return post(
          '/vendors/acme/metadata',
          JSON.stringify({
            ...env,
            signed: { ...env.signed, version: env.signed.version },
            signatures: env.signatures.map((s) => ({
              ...s,
              sig: s.sig.replace(/^./, (c) => (c === '0' ? '1' : '0')),
            })),
          }),
          acme.token,
        );
      },
    },
    {
      name: 'release_at inside the lead time',
      status: 422,
      code: 'RELEASE_TOO_SOON',
      send: async () =>
        post(
          '/vendors/acme/metadata',
          JSON.stringify(await fx.release('acme', {}, [artifact], fx.clock.now() + 10 * SECOND)),
          acme.token,
        ),
    },
    {
      name: 'an artifact never uploaded',
      status: 422,
      code: 'BLOB_MISSING',
      send: async () =>
        post(
          '/vendors/acme/metadata',
          JSON.stringify(
            await fx.release('acme', {}, [{ ...artifact, sha256: 'ab'.repeat(32) }], later()),
          ),
          acme.token,
        ),
    },
    {
      name: 'a version that skips ahead',
      status: 409,
      code: 'VERSION_CONFLICT',
      send: async () => {
        const env = await fx.release('acme', {}, [artifact], later());
        return post(
          '/vendors/acme/metadata',
          JSON.stringify(
            signEnvelope({ ...env.signed, version: 9 }, [fx.vendors.get('acme')!.key]),
          ),
          acme.token,
        );
      },
    },
    {
      name: 'malformed JSON',
      status: 400,
      code: 'JSON_INVALID',
      send: () => post('/vendors/acme/metadata', '{"signed": ', acme.token),
    },
    {
      name: 'JSON that is not metadata',
      status: 400,
      code: 'METADATA_INVALID',
      send: () =>
        post(
          '/vendors/acme/metadata',
          '{"signed": {"_type": "targets", "version": 1.5}}',
          acme.token,
        ),
    },
    {
      name: 'a float in signed',
      status: 400,
      code: 'METADATA_INVALID',
      send: async () =>
        post(
          '/vendors/acme/metadata',
          JSON.stringify(await fx.release('acme', {}, [artifact], later())).replace(
            '"length":8',
            '"length":8.5',
          ),
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
      send: () =>
        post(
          '/vendors/acme/metadata',
          JSON.stringify({ pad: 'x'.repeat(5 * 1024 * 1024) }),
          acme.token,
        ),
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
      const response = await post(
        '/vendors/acme/metadata',
        JSON.stringify(await fx.release('acme', {}, [artifact], later())),
        acme.token,
      );
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
