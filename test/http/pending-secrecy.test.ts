import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, MINUTE, createFixture } from '../helpers/repo.js';

// Nothing about a pending release may be public before its tick: not its product, version, CVE, file
// name, hash or size, on any route anyone can reach without a token.

let fx: Fixture;
let secrets: string[];
let releaseAt: number;

beforeAll(async () => {
  fx = await createFixture();
  await fx.addVendor('acme');
  await fx.node.appDeps.declareGroups!(['eu-west']);
  const artifact = await fx.artifact(
    'zz-embargoed-fix-7f3a.sh',
    'echo the embargoed fix, 4242 bytes of secret\n',
  );
  releaseAt = fx.clock.now() + 10 * MINUTE;
  const upload = await fx.release(
    'acme',
    {
      product: 'secret-product-x9',
      version: '97.3.1',
      applies_to: '<97.3.1',
      cves: ['CVE-2026-777777'],
    },
    [artifact],
    releaseAt,
  );
  await fx.node.repo.stageVendorMetadata('acme', upload);
  await fx.node.evidence.activations();
  await fx.node.evidence.rollup();
  await fx.node.sequencer.idle();
  secrets = [
    'secret-product-x9',
    '97.3.1',
    'CVE-2026-777777',
    'zz-embargoed-fix-7f3a',
    artifact.sha256,
  ];
});
afterAll(() => fx.close());

async function publicRoutes(): Promise<string[]> {
  const size = (await fx.node.log.head()).size;
  const routes = [
    '/',
    '/healthz',
    '/metadata/timestamp.json',
    '/g/eu-west/metadata/timestamp.json',
    '/log/checkpoint',
    `/log/entries?start=0&end=${size}`,
    '/api/v1/reports',
    '/.well-known/csaf/provider-metadata.json',
    '/.well-known/csaf/clear/csaf-feed-tlp-clear.json',
    '/osv/index.json',
  ];
  for (let v = 1; v <= 4; v++)
    routes.push(
      `/metadata/${v}.root.json`,
      `/metadata/${v}.snapshot.json`,
      `/metadata/${v}.targets.json`,
      `/metadata/${v}.acme.json`,
      `/g/eu-west/metadata/${v}.acme.json`,
    );
  for (const v of ['acme', 'quill'])
    routes.push(
      `/targets/${v}/${secrets[4]}.zz-embargoed-fix-7f3a.sh`,
      `/g/eu-west/targets/${v}/${secrets[4]}.zz-embargoed-fix-7f3a.sh`,
    );
  for (let i = 0; i < size; i++) routes.push(`/log/proof/inclusion?index=${i}&size=${size}`);
  return routes;
}

describe('a pending release on every public route', () => {
  it('reveals none of its contents before its tick', async () => {
    for (const path of await publicRoutes()) {
      const response = await fx.node.app.request(path);
      const body = await response.text();
      for (const secret of secrets)
        expect(body.includes(secret), `${path} (${response.status}) reveals ${secret}`).toBe(false);
    }
  });

  it('reveals them from its tick on (the walk is not blind)', async () => {
    fx.clock.set(releaseAt);
    await fx.node.repo.refresh();
    await fx.node.evidence.activations();
    await fx.node.sequencer.idle();
    const seen = new Set<string>();
    for (const path of await publicRoutes()) {
      const body = await (await fx.node.app.request(path)).text();
      for (const secret of secrets) if (body.includes(secret)) seen.add(secret);
    }
    expect([...seen].sort()).toEqual([...secrets].sort());
  });
});
