import { SimAgent } from '../helpers/receipts.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPrivateKey } from '../../src/keys/key-files.js';
import { generateVendorKey } from '../../src/keys/keygen.js';
import { buildKeyRotation, buildRegistration } from '../../src/publish/build.js';
import type { Envelope, TargetsSigned } from '../../src/tuf/metadata.js';
import { type Fixture, MINUTE, createFixture, installReport } from '../helpers/repo.js';
import { validate } from '../helpers/json-schema.js';

interface Operation {
  parameters?: Array<{
    in: string;
    name: string;
    required?: boolean;
    schema: Record<string, unknown>;
  }>;
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, unknown>;
}
type Document = {
  openapi: string;
  info: { title: string };
  paths: Record<string, Record<string, Operation>>;
} & Record<string, unknown>;

let fx: Fixture;
let acme: { token: string };
let doc: Document;
beforeAll(async () => {
  fx = await createFixture();
  acme = await fx.addVendor('acme');
  const response = await fx.node.app.request('/openapi.json');
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  doc = JSON.parse(await response.text()) as Document;
});
afterAll(() => fx.close());

/** Every way to break a valid body one step: drop a field, change its type, add an unknown one. */
function mutations(body: unknown, path: string[] = []): Array<{ what: string; body: unknown }> {
  const node = path.reduce<unknown>((n, p) => (n as Record<string, unknown>)[p], body);
  if (path.length > 7 || node === null || typeof node !== 'object') return [];
  /** A copy of the body with the object at `path` changed by `change`. */
  const changed = (change: (target: Record<string, unknown>) => void): unknown => {
    const copy = structuredClone(body);
    change(
      path.reduce<unknown>((n, p) => (n as Record<string, unknown>)[p], copy) as Record<
        string,
        unknown
      >,
    );
    return copy;
  };
  const at = (k: string | number) => [...path, String(k)].join('.') || '(root)';
  const out: Array<{ what: string; body: unknown }> = [];
  const entries: Array<[string, unknown]> = Array.isArray(node)
    ? node.slice(0, 2).map((v, i) => [String(i), v])
    : Object.entries(node);
  if (!Array.isArray(node))
    out.push({
      what: `${at('zz_unknown')} added`,
      body: changed((t) => {
        t.zz_unknown = 1;
      }),
    });
  for (const [key, value] of entries) {
    if (!Array.isArray(node))
      out.push({ what: `${at(key)} removed`, body: changed((t) => void delete t[key]) });
    for (const wrong of [null, 7, 1.5, -1, 'x', '', 'y'.repeat(300), [], {}, true]) {
      if (JSON.stringify(wrong) !== JSON.stringify(value))
        out.push({
          what: `${at(key)} = ${JSON.stringify(wrong).slice(0, 12)}`,
          body: changed((t) => {
            t[key] = wrong;
          }),
        });
    }
    out.push(...mutations(body, [...path, key]));
  }
  return out;
}

function requestSchema(path: string, method: string): Record<string, unknown> {
  const schema = doc.paths[path]?.[method]?.requestBody?.content['application/json']?.schema;
  if (!schema) throw new Error(`no JSON request body for ${method} ${path}`);
  return schema;
}

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBe('fairpatch');
  });

  it('names every publisher, receipt and log route the app serves, with each path parameter declared', () => {
    const served = fx.node.app.routes
      .filter(
        (r) => r.method !== 'ALL' && (r.path.startsWith('/api/v1/') || r.path.startsWith('/log/')),
      )
      .map((r) => ({ method: r.method.toLowerCase(), path: r.path.replace(/:(\w+)/g, '{$1}') }));
    expect(served.length).toBeGreaterThan(15);
    for (const { method, path } of served) {
      const operation = doc.paths[path]?.[method];
      expect(operation, `${method.toUpperCase()} ${path}`).toBeDefined();
      for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
        expect(
          operation?.parameters?.some((p) => p.in === 'path' && p.name === name && p.required),
          `${path}: {${name}}`,
        ).toBe(true);
      }
    }
    // And nothing it does not serve.
    for (const [path, operations] of Object.entries(doc.paths))
      for (const method of Object.keys(operations))
        expect(served, `${method} ${path}`).toContainEqual({ method, path });
  });

  it('describes every refusal with the one error format, whose codes are the server table', () => {
    const codes = new Set<string>();
    for (const operations of Object.values(doc.paths)) {
      for (const op of Object.values(operations)) {
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) < 400) continue;
          const schema = (
            response as {
              content: Record<
                string,
                { schema: { properties: { error: { properties: { code: { enum: string[] } } } } } }
              >;
            }
          ).content['application/json']!.schema;
          for (const c of schema.properties.error.properties.code.enum) codes.add(c);
        }
      }
    }
    expect(codes).toContain('RATE_LIMITED');
    expect(codes).toContain('RECEIPT_INVALID');
  });
});

describe('request schemas are what the server validates', () => {
  const post = (path: string, body: unknown, token?: string) =>
    fx.node.app.request(path, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify(body),
    });

  async function rows(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const table of [
      'vendors',
      'vendor_metadata',
      'top_targets',
      'root_versions',
      'install_reports',
      'log_leaves',
    ] as const) {
      out[table] = Number(
        (
          await fx.node.db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    }
    return out;
  }

  /**
   * The valid body passes the document (and the server, where it can be accepted); every mutation
   * the document rejects, the server refuses with a 4xx and a code, storing nothing; whatever the
   * server accepts, the document accepts too.
   */
  async function check(
    docPath: string,
    serverPath: string,
    valid: unknown,
    token: string | undefined,
    acceptValid: boolean,
  ): Promise<void> {
    const schema = requestSchema(docPath, 'post');
    expect(validate(schema, valid, doc)).toEqual([]);
    let rejected = 0;
    for (const m of mutations(valid)) {
      const problems = validate(schema, m.body, doc);
      const before = problems.length > 0 ? await rows() : undefined;
      const response = await post(serverPath, m.body, token);
      expect(response.status, m.what).toBeLessThan(500);
      if (response.status < 300)
        expect(problems, `${m.what}: the server accepts it, so must the document`).toEqual([]);
      if (!before) continue;
      rejected++;
      expect(
        response.status,
        `${m.what}: the document rejects it (${problems[0]}), the server must too`,
      ).toBeGreaterThanOrEqual(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toMatch(
        /^[A-Z_]+$/,
      );
      expect(await rows(), m.what).toEqual(before);
    }
    expect(rejected).toBeGreaterThan(10);
    if (acceptValid) expect((await post(serverPath, valid, token)).status).toBe(201);
  }

  it('POST /api/v1/receipts', async () => {
    const agent = new SimAgent('eu-west', fx.clock);
    await agent.poll(fx.node.app);
    await check('/api/v1/receipts', '/api/v1/receipts', agent.batch(), undefined, true);
  });

  it('POST /api/v1/reports', async () => {
    await check(
      '/api/v1/reports',
      '/api/v1/reports',
      JSON.parse(installReport(undefined, fx.clock.now()).body as string),
      undefined,
      true,
    );
  });

  it('POST /api/v1/vendors/{vendor}/metadata', async () => {
    const artifact = await fx.artifact('acme-agent-2.4.1.sh', 'echo fix\n');
    const release = await fx.release('acme', {}, [artifact], fx.clock.now() + 2 * MINUTE);
    await check(
      '/api/v1/vendors/{vendor}/metadata',
      '/api/v1/vendors/acme/metadata',
      release,
      acme.token,
      true,
    );
  });

  it('POST /api/v1/vendors', async () => {
    const previous = await fx.node.store.latestTopTargets();
    const body = buildRegistration({
      name: 'newco',
      vendorKey: generateVendorKey(fx.keysDir, 'newco'),
      targetsKey: readPrivateKey(join(fx.keysDir, 'targets.key')),
      previousTop: previous && (JSON.parse(previous.bytes) as Envelope<TargetsSigned>).signed,
      now: fx.clock.now(),
    });
    await check(
      '/api/v1/vendors',
      '/api/v1/vendors',
      JSON.parse(JSON.stringify(body)),
      fx.operatorToken,
      true,
    );
  });

  it('POST /api/v1/vendors/{vendor}/key', async () => {
    const top = await fx.node.store.latestTopTargets();
    const latest = await fx.node.store.latestVendorMetadata('acme');
    const body = buildKeyRotation({
      name: 'acme',
      newKey: generateVendorKey(fx.keysDir, 'acme-next'),
      targetsKey: readPrivateKey(join(fx.keysDir, 'targets.key')),
      previousTop: (JSON.parse(top!.bytes) as Envelope<TargetsSigned>).signed,
      previous: (JSON.parse(latest!.bytes) as Envelope<TargetsSigned>).signed,
      now: fx.clock.now(),
    });
    await check(
      '/api/v1/vendors/{vendor}/key',
      '/api/v1/vendors/acme/key',
      JSON.parse(JSON.stringify(body)),
      fx.operatorToken,
      false,
    );
  });

  it('POST /api/v1/root', async () => {
    const root = JSON.parse(readFileSync(join(fx.keysDir, '1.root.json'), 'utf8'));
    await check('/api/v1/root', '/api/v1/root', root, fx.operatorToken, false);
  });

  it('query parameters: what the document rejects, the log refuses', async () => {
    const parameter = doc.paths['/log/entries']!.get!.parameters!.find((p) => p.name === 'start')!;
    for (const value of ['-1', '01', '1e3', '0x10', ' 1', '', '12345678901234567']) {
      expect(validate(parameter.schema, value, doc).length, value).toBeGreaterThan(0);
      const response = await fx.node.app.request(
        `/log/entries?start=${encodeURIComponent(value)}&end=1`,
      );
      expect(response.status, value).toBe(400);
    }
    expect(validate(parameter.schema, '0', doc)).toEqual([]);
  });
});
