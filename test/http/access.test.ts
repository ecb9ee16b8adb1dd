import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, MINUTE, createFixture, installReport } from '../helpers/repo.js';
import { DIALECTS, freshDatabase } from '../helpers/dialects.js';

describe.each(DIALECTS)('%s', (dialect) => {
  let fx: Fixture;
  let acme: { token: string };
  let other: { token: string };
  let revoked: string;

  beforeAll(async () => {
    fx = await createFixture({ databaseUrl: await freshDatabase(dialect) });
    acme = await fx.addVendor('acme');
    other = await fx.addVendor('other');
    revoked = await fx.node.store.issueToken('acme', fx.clock.now());
    // Revoking every acme token, then issuing a fresh one, is how a leaked token is rotated out.
    await fx.node.store.revokeTokens('acme', fx.clock.now());
    acme = { token: await fx.node.store.issueToken('acme', fx.clock.now()) };
  });
  afterAll(() => fx.close());

  /** Row counts of every table: "nothing changed" means all of them are equal before and after. */
  async function counts(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const table of [
      'vendors',
      'tokens',
      'vendor_metadata',
      'blobs',
      'top_targets',
      'root_versions',
      'log_leaves',
    ] as const) {
      const rows = await fx.node.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      out[table] = Number(rows.n);
    }
    return out;
  }

  const ROUTES: Array<{
    method: string;
    path: string;
    who: 'vendor' | 'operator' | 'vendor-or-operator';
    body?: string;
    type?: string;
  }> = [
    {
      method: 'PUT',
      path: `/api/v1/vendors/acme/blobs/${'ab'.repeat(32)}`,
      who: 'vendor',
      body: 'bytes',
      type: 'application/octet-stream',
    },
    { method: 'GET', path: '/api/v1/vendors/acme/metadata/latest', who: 'vendor-or-operator' },
    { method: 'POST', path: '/api/v1/vendors/acme/metadata', who: 'vendor', body: '{}' },
    { method: 'POST', path: '/api/v1/vendors', who: 'operator', body: '{}' },
    { method: 'POST', path: '/api/v1/vendors/acme/tokens', who: 'operator' },
    { method: 'DELETE', path: '/api/v1/vendors/acme/tokens', who: 'operator' },
    { method: 'POST', path: '/api/v1/vendors/acme/key', who: 'operator', body: '{}' },
    { method: 'GET', path: '/api/v1/top-targets/latest', who: 'operator' },
    { method: 'POST', path: '/api/v1/root', who: 'operator', body: '{}' },
  ];

  describe('every protected route, table-driven', () => {
    const callers: Array<[string, () => string | undefined, number, string]> = [
      ['no token', () => undefined, 401, 'UNAUTHORIZED'],
      ['a wrong token', () => 'fp_acme_' + 'A'.repeat(43), 401, 'UNAUTHORIZED'],
      ['a revoked token', () => revoked, 401, 'UNAUTHORIZED'],
      ['a malformed header', () => 'not a token!', 401, 'UNAUTHORIZED'],
    ];
    for (const route of ROUTES) {
      const wrongRole: Array<[string, () => string | undefined, number, string]> =
        route.who === 'vendor-or-operator'
          ? [["another vendor's token", () => other.token, 403, 'FORBIDDEN']]
          : route.who === 'vendor'
            ? [
                ["another vendor's token", () => other.token, 403, 'FORBIDDEN'],
                ['the operator token', () => fx.operatorToken, 403, 'FORBIDDEN'],
              ]
            : [["a vendor's token", () => acme.token, 403, 'FORBIDDEN']];
      for (const [name, token, status, code] of [...callers, ...wrongRole]) {
        it(`${route.method} ${route.path} with ${name}: ${status} ${code}, nothing changed`, async () => {
          const before = await counts();
          const headers: Record<string, string> = {
            'content-type': route.type ?? 'application/json',
          };
          const t = token();
          if (t) headers.authorization = t.includes(' ') ? t : `Bearer ${t}`;
          const response = await fx.node.app.request(route.path, {
            method: route.method,
            headers,
            ...(route.body ? { body: route.body } : {}),
          });
          expect(response.status).toBe(status);
          expect(((await response.json()) as { error: { code: string } }).error.code).toBe(code);
          expect(await counts()).toEqual(before);
        });
      }
    }

    it('the right token gets through (the refusals above are about the token, not a broken route)', async () => {
      const response = await fx.node.app.request('/api/v1/vendors/acme/metadata/latest', {
        headers: { authorization: `Bearer ${acme.token}` },
      });
      expect(response.status).toBe(200);
      const op = await fx.node.app.request('/api/v1/top-targets/latest', {
        headers: { authorization: `Bearer ${fx.operatorToken}` },
      });
      expect(op.status).toBe(200);
    });

    it('says which token problem it is: no header, not a Bearer token, an unknown or revoked token', async () => {
      const message = async (authorization?: string): Promise<string> => {
        const response = await fx.node.app.request(
          '/api/v1/top-targets/latest',
          authorization ? { headers: { authorization } } : {},
        );
        return ((await response.json()) as { error: { message: string } }).error.message;
      };
      expect(await message()).toMatch(/^no Authorization header/);
      expect(await message(`Basic ${btoa('operator:secret')}`)).toMatch(/is not a Bearer token/);
      expect(await message('Bearer short')).toBe('unknown or revoked token');
      expect(await message(`Bearer ${revoked}`)).toBe('unknown or revoked token');
    });
  });

  describe('rate limits', () => {
    it('answer 429 with Retry-After past the burst, per token, and recover as time passes', async () => {
      const limited = await fx.openNode({
        publisherPerTokenPerSecond: 1,
        publisherPerTokenBurst: 3,
      });
      const get = () =>
        limited.app.request('/api/v1/vendors/acme/metadata/latest', {
          headers: { authorization: `Bearer ${acme.token}` },
        });
      for (let i = 0; i < 3; i++) expect((await get()).status).toBe(200);
      const refused = await get();
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
        'RATE_LIMITED',
      );
      // Another token is not affected.
      expect(
        (
          await limited.app.request('/api/v1/vendors/other/metadata/latest', {
            headers: { authorization: `Bearer ${other.token}` },
          })
        ).status,
      ).toBe(200);
      fx.clock.advance(MINUTE);
      expect((await get()).status).toBe(200);
    });

    it('limit receipts per address', async () => {
      const limited = await fx.openNode({
        agentPerAddressPerSecond: 1,
        agentPerAddressBurst: 2,
      });
      const post = () => limited.app.request('/api/v1/reports', installReport());
      expect((await post()).status).toBe(201);
      expect((await post()).status).toBe(201);
      expect((await post()).status).toBe(429);
    });
  });
});
