import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, createFixture } from '../helpers/repo.js';

let fx: Fixture;
let token: string;
beforeAll(async () => {
  fx = await createFixture();
  ({ token } = await fx.addVendor('acme'));
});
afterAll(() => fx.close());

/** The contract for hostile input: a 4xx with a code, never a 5xx, a crash or a half-written row. */
async function expectClean(response: Response): Promise<void> {
  expect(response.status, await response.clone().text()).toBeLessThan(500);
  if (response.status >= 400) {
    const body = (await response.json()) as { error?: { code?: string } };
    expect(body.error?.code).toMatch(/^[A-Z_]+$/);
  }
}

const segment = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom(
    '..',
    '.',
    '%2e%2e',
    '%2F',
    'timestamp.json',
    '1.root.json',
    '0.snapshot.json',
    'acme',
    'ab'.repeat(32),
  ),
);
const json = fc.jsonValue({ maxDepth: 4 });
const metadataLike = fc.record({
  signed: fc.record(
    {
      _type: fc.constantFrom('targets', 'root', 'x'),
      spec_version: fc.string(),
      version: fc.oneof(fc.integer(), fc.double(), fc.string()),
      expires: fc.string(),
      targets: fc.dictionary(fc.string(), json),
    },
    { requiredKeys: [] },
  ),
  signatures: fc.array(fc.record({ keyid: fc.string(), sig: fc.string() }), { maxLength: 3 }),
});

describe('generated hostile input on every route', () => {
  it('GET paths under every route prefix', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          '/metadata/',
          '/g/',
          '/targets/',
          '/log/',
          '/api/v1/',
          '/log/proof/',
          '/g/eu/targets/',
        ),
        fc.array(segment, { minLength: 1, maxLength: 4 }),
        async (prefix, parts) => {
          const path = prefix + parts.map((p) => encodeURIComponent(p)).join('/');
          await expectClean(await fx.node.app.request(path));
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('log queries', async () => {
    const value = fc.oneof(
      fc.integer({ min: -5, max: 100_000 }).map(String),
      fc.string({ maxLength: 12 }),
      fc.constantFrom('1e3', '0x10', '', '9007199254740993'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          '/log/entries?start=%s&end=%s',
          '/log/proof/inclusion?index=%s&size=%s',
          '/log/proof/consistency?first=%s&second=%s',
        ),
        value,
        value,
        async (template, a, b) => {
          await expectClean(
            await fx.node.app.request(
              template.replace('%s', encodeURIComponent(a)).replace('%s', encodeURIComponent(b)),
            ),
          );
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('metadata uploads, receipts, reports and registrations: refused cleanly, nothing stored', async () => {
    const before = await fx.node.db.selectFrom('vendor_metadata').selectAll().execute();
    const logBefore = (await fx.node.log.head()).size;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          '/api/v1/vendors/acme/metadata',
          '/api/v1/receipts',
          '/api/v1/reports',
          '/api/v1/vendors',
          '/api/v1/root',
        ),
        fc.oneof(
          json,
          metadataLike,
          fc.record({
            group: fc.string(),
            client: fc.string(),
            receipts: fc.array(fc.record({ document: json, received_at: fc.string() }), {
              maxLength: 3,
            }),
          }),
        ),
        fc.boolean(),
        async (path, body, asText) => {
          const response = await fx.node.app.request(path, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${path.includes('acme') ? token : fx.operatorToken}`,
            },
            body: asText ? JSON.stringify(body).slice(0, -1) : JSON.stringify(body),
          });
          await expectClean(response);
          expect(response.status).not.toBe(201);
          expect(response.status).not.toBe(429); // the inputs must reach the parsers
        },
      ),
      { numRuns: 2000 },
    );
    expect(await fx.node.db.selectFrom('vendor_metadata').selectAll().execute()).toEqual(before);
    expect((await fx.node.log.head()).size).toBe(logBefore);
  });

  it('manifests', async () => {
    const { manifestSchema } = await import('../../src/publish/manifest.js');
    const { parseWith } = await import('../../src/tuf/schema.js');
    const { FairpatchError } = await import('../../src/errors.js');
    fc.assert(
      fc.property(
        fc.oneof(
          json,
          fc.record(
            {
              vendor: fc.string(),
              product: fc.string(),
              version: fc.string(),
              release_at: fc.string(),
              artifacts: fc.array(json),
            },
            { requiredKeys: [] },
          ),
        ),
        (value) => {
          try {
            parseWith(manifestSchema, value, 'MANIFEST_INVALID');
          } catch (error) {
            expect(error).toBeInstanceOf(FairpatchError);
            expect((error as InstanceType<typeof FairpatchError>).code).toBe('MANIFEST_INVALID');
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
