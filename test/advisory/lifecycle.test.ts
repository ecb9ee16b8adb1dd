import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildAdvisoryFile, parseAdvisoryFile } from '../../src/advisory/advisory-file.js';
import { runAudit } from '../../src/audit/run.js';
import { advisoryTarget } from '../../src/publish/advisory.js';
import { readPrivateKey } from '../../src/keys/key-files.js';
import { generateVendorKey } from '../../src/keys/keygen.js';
import { buildHalt, buildKeyRotation, buildRelease } from '../../src/publish/build.js';
import type { Manifest } from '../../src/publish/manifest.js';
import { verify } from '../../src/tuf/keys.js';
import { sha256Hex, signEnvelope, type TargetsSigned } from '../../src/tuf/metadata.js';
import { listen, readRoot } from '../helpers/repo.js';
import { tufClient } from '../helpers/tuf-client.js';
import { fullAdvisory } from './samples.js';
import { csafErrors, osvErrors } from './validators.js';
import {
  type AdvisoryWorld,
  advisoryPaths,
  advisoryWorld,
  answer,
  publishWithAdvisory,
} from './world.js';

const ID = fullAdvisory.id;
const TARGET = 'acme/acme-2026-0001.advisory.json';

let w: AdvisoryWorld;
beforeEach(async () => {
  w = await advisoryWorld();
});
afterEach(() => w.close());

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const json = async (url: string) => JSON.parse((await answer(url)).body.toString());

async function post(path: string, body: unknown) {
  const response = await fetch(`${w.servers[0]!.url}/api/v1${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${w.fx.vendors.get('acme')!.token}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as { error?: { code: string } } };
}

/** Stores bytes as acme's upload, as `PUT /vendors/acme/blobs/<sha256>` does. */
async function storeBlob(bytes: Buffer): Promise<string> {
  const sha256 = sha256Hex(bytes);
  await w.fx.node.blobs.put(sha256, Readable.from([bytes]), bytes.length + 1);
  await w.fx.node.store.recordBlob('acme', sha256, bytes.length, w.fx.clock.now());
  return sha256;
}

const manifest = (extra: Partial<Manifest> = {}): Manifest => ({
  vendor: 'acme',
  product: 'acme-agent',
  version: '2.4.1',
  channel: 'stable',
  severity: 'critical',
  cves: [],
  applies_to: '>=2.0.0 <2.4.1',
  release_at: '+60s',
  artifacts: [],
  advisory: fullAdvisory,
  ...extra,
});

const latest = async () => (await w.fx.node.store.latestVendorMetadata('acme'))!.signed;

describe('a halt withdraws the advisory’s fix', () => {
  it('OSV says withdrawn at the halt tick, CSAF gains revision 2, both still validate; no signature for a revision the vendor did not sign', async () => {
    const result = await publishWithAdvisory(w);
    const tickMs = Date.parse(result.activatesAt);
    w.fx.clock.set(tickMs);
    const [doc, , sig, osv] = advisoryPaths(ID, new Date(tickMs).getUTCFullYear());
    const url = w.servers[1]!.url;
    expect((await answer(url + sig)).status).toBe(200);

    const { envelope } = buildHalt({
      vendor: 'acme',
      version: '2.4.1',
      previous: await latest(),
      vendorKey: w.fx.vendors.get('acme')!.key,
      now: w.fx.clock.now(),
    });
    const halt = await post('/vendors/acme/metadata', envelope);
    expect(halt.status).toBe(201);
    for (const node of w.nodes) await node.repo.refresh();
    const haltMs = Date.parse((halt.body as unknown as { activatesAt: string }).activatesAt);

    w.fx.clock.set(haltMs - 1);
    expect((await json(url + osv)).withdrawn).toBeUndefined();
    w.fx.clock.set(haltMs);
    const record = await json(url + osv);
    expect(osvErrors(record)).toEqual([]);
    expect(record).toMatchObject({ withdrawn: iso(haltMs), modified: iso(haltMs) });
    expect(record.published).toBe(iso(tickMs));
    const csaf = await json(url + doc);
    expect(await csafErrors(csaf)).toEqual([]);
    expect(csaf.document.tracking.version).toBe('2');
    expect(csaf.document.tracking.revision_history[1].date).toBe(iso(haltMs));
    expect((await answer(url + sig)).status).toBe(404);
    const feed = await json(`${url}/.well-known/csaf/clear/csaf-feed-tlp-clear.json`);
    expect(feed.feed.entry[0].link.map((l: { rel: string }) => l.rel)).toEqual(['self', 'hash']);
    expect(await json(`${url}/osv/index.json`)).toEqual([
      expect.objectContaining({ id: `x_${ID}`, modified: iso(haltMs) }),
    ]);
  });
});

describe('a tuf-js client', () => {
  it('finds no advisory before the tick and downloads it as a target at the tick', async () => {
    const result = await publishWithAdvisory(w);
    const client = tufClient(w.servers[1]!.url, 'eu-west', join(w.fx.keysDir, '1.root.json'));
    w.fx.clock.set(Date.parse(result.activatesAt) - 1);
    let updater = client.updater();
    await updater.refresh();
    expect(await updater.getTargetInfo(TARGET)).toBeUndefined();

    w.fx.clock.set(Date.parse(result.activatesAt));
    updater = client.updater();
    await updater.refresh();
    const info = await updater.getTargetInfo(TARGET);
    expect(info).toBeDefined();
    const file = parseAdvisoryFile(readFileSync(await updater.downloadTarget(info!)));
    expect(file.advisory.title).toBe(fullAdvisory.title);
  });
});

describe('staging refuses an advisory the nodes could not serve as signed', () => {
  it('a signature over a document dated at another tick: 422 ADVISORY_INVALID', async () => {
    const releaseAt = Math.ceil((w.fx.clock.now() + 60_000) / 1000) * 1000;
    const artifact = await w.fx.artifact('fix.sh', 'echo fixed\n');
    const key = w.fx.vendors.get('acme')!.key;
    const honest = buildRelease({
      manifest: manifest(),
      artifacts: [artifact],
      releaseAt,
      previous: await latest(),
      vendorKey: key,
      now: w.fx.clock.now(),
    }).signed;
    // The vendor's file, but signed over the document as it would read one second later.
    const { fix } = { fix: honest.targets['acme/fix.sh']!.custom! };
    const skewed = buildAdvisoryFile(
      {
        advisory: fullAdvisory,
        fixes: [
          {
            vendor: 'acme',
            product: fix.product,
            version: fix.version,
            applies_to: fix.applies_to,
            platforms: ['linux-x64'],
          },
        ],
        publisher: { category: 'vendor', name: 'acme' },
        publishedMs: releaseAt + 1000,
      },
      key,
    );
    const sha256 = await storeBlob(skewed);
    const signed: TargetsSigned = {
      ...honest,
      targets: {
        ...honest.targets,
        [TARGET]: { ...honest.targets[TARGET]!, length: skewed.length, hashes: { sha256 } },
      },
    };
    const refused = await post('/vendors/acme/metadata', signEnvelope(signed, [key]));
    expect(refused).toMatchObject({ status: 422, body: { error: { code: 'ADVISORY_INVALID' } } });
  });

  it('an advisory added after its fix went live: 422 ADVISORY_INVALID', async () => {
    const key = w.fx.vendors.get('acme')!.key;
    const releaseAt = Math.ceil((w.fx.clock.now() + 60_000) / 1000) * 1000;
    await w.fx.stage('acme', {}, [await w.fx.artifact('fix.sh', 'echo fixed\n')], releaseAt);
    const previous = await latest();
    const later = releaseAt + 60_000;
    const advisory = advisoryTarget({
      manifest: manifest(),
      targets: previous.targets,
      releaseAt: later,
      vendorKey: key,
    });
    await storeBlob(advisory.bytes);
    const next = {
      ...previous,
      version: previous.version + 1,
      targets: { ...previous.targets, [advisory.path]: advisory.info },
    };
    const refused = await post('/vendors/acme/metadata', signEnvelope(next, [key]));
    expect(refused).toMatchObject({ status: 422, body: { error: { code: 'ADVISORY_INVALID' } } });
  });

  it('a manifest whose CVEs are not its advisory’s is refused before anything is uploaded', async () => {
    await expect(publishWithAdvisory(w, { cves: ['CVE-2026-1111'] })).rejects.toMatchObject({
      code: 'MANIFEST_INVALID',
    });
    expect((await w.fx.node.store.latestVendorMetadata('acme'))!.version).toBe(1);
  });
});

describe('the audit', () => {
  it('an advisory public one version after its fix (written past staging): advisory-skew, proof', async () => {
    const key = w.fx.vendors.get('acme')!.key;
    const fixAt = Math.ceil((w.fx.clock.now() + 60_000) / 1000) * 1000;
    const fix = await w.fx.stage('acme', {}, [await w.fx.artifact('fix.sh', 'x')], fixAt);
    const previous = await latest();
    const advisoryAt = fixAt + 60_000;
    const advisory = advisoryTarget({
      manifest: manifest(),
      targets: previous.targets,
      releaseAt: advisoryAt,
      vendorKey: key,
    });
    await storeBlob(advisory.bytes);
    // Straight into the repository, past the publisher route's check: what a dishonest node could do.
    const late = await w.fx.node.repo.stageVendorMetadata(
      'acme',
      JSON.parse(
        JSON.stringify(
          signEnvelope(
            {
              ...previous,
              version: previous.version + 1,
              targets: { ...previous.targets, [advisory.path]: advisory.info },
            },
            [key],
          ),
        ),
      ),
    );
    w.fx.clock.set(advisoryAt + 1000);
    await w.fx.node.evidence.activations();
    const outcome = await runAudit({
      server: w.servers[0]!.url,
      stateDir: mkdtempSync(join(tmpdir(), 'fairpatch-audit-')),
      logKey: w.fx.node.logVerifierKey,
      root: readRoot(w.fx.keysDir),
      now: w.fx.clock.now(),
    });
    const skew = outcome.report!.findings.filter((f) => f.kind === 'advisory-skew');
    expect(skew).toEqual([
      expect.objectContaining({
        class: 'proof',
        unfair: true,
        evidence: expect.objectContaining({
          advisory_tick: late.activationTick,
          fix_tick: fix.activationTick,
        }),
      }),
    ]);
    expect(outcome.report!.verdict).toBe('UNFAIR');
  });
});

describe('the CSAF provider’s absolute URLs', () => {
  it('are under --public-url when set, else under the origin the request names', async () => {
    const node = await w.fx.openNode({ publicUrl: 'https://patches.example/' });
    const server = await listen(node.app);
    try {
      const path = '/.well-known/csaf/provider-metadata.json';
      expect((await json(server.url + path)).canonical_url).toBe(`https://patches.example${path}`);
      expect((await json(w.servers[0]!.url + path)).canonical_url).toBe(w.servers[0]!.url + path);
    } finally {
      await server.close();
    }
  });
});

describe('a vendor key rotation after an advisory went public', () => {
  it('keeps its .sig, by the key the vendor held then, before and after the rotation’s tick', async () => {
    const result = await publishWithAdvisory(w);
    const tickMs = Date.parse(result.activatesAt);
    w.fx.clock.set(tickMs);
    const [doc, , sig] = advisoryPaths(ID, new Date(tickMs).getUTCFullYear());
    const url = w.servers[1]!.url;
    const before = await answer(url + sig);
    expect(before.status).toBe(200);

    const previousTop = (
      JSON.parse((await w.fx.node.store.latestTopTargets())!.bytes) as { signed: TargetsSigned }
    ).signed;
    const rotation = await fetch(`${w.servers[0]!.url}/api/v1/vendors/acme/key`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${w.fx.operatorToken}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify(
        buildKeyRotation({
          name: 'acme',
          newKey: generateVendorKey(w.fx.keysDir, 'acme-2'),
          targetsKey: readPrivateKey(join(w.fx.keysDir, 'targets.key')),
          previousTop,
          previous: await latest(),
          now: w.fx.clock.now(),
        }),
      ),
    });
    expect(rotation.status).toBe(201);
    const { activationTick } = (await rotation.json()) as { activationTick: number };
    for (const node of w.nodes) await node.repo.refresh();

    // Pending: nothing served changes. Live: the old key still vouches for what it signed.
    expect((await answer(url + sig)).body).toEqual(before.body);
    w.fx.clock.set(tickMs + (activationTick - result.activationTick) * 1000);
    const after = await answer(url + sig);
    expect(after.status).toBe(200);
    const oldKey = Buffer.from(w.fx.vendors.get('acme')!.key.publicKey).toString('hex');
    expect(
      verify(oldKey, (await answer(url + doc)).body, JSON.parse(after.body.toString()).sig),
    ).toBe(true);
  });
});
