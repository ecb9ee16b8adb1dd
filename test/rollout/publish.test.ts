import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildRelease } from '../../src/publish/build.js';
import { PublisherClient, publishManifest } from '../../src/publish/client.js';
import { parseStagesFlag } from '../../src/rollout/plan.js';
import { type Envelope, type TargetsSigned, signEnvelope } from '../../src/tuf/metadata.js';
import { type Fixture, MINUTE, createFixture, listen } from '../helpers/repo.js';

// The plan is part of what the vendor signs: it reaches the node inside the vendor's metadata, the
// node refuses a plan no verifier would accept, and every group is served the same bytes.

let fx: Fixture | undefined;
let server: { url: string; close(): Promise<void> } | undefined;
afterEach(async () => {
  await server?.close();
  await fx?.close();
  server = fx = undefined;
});

async function serve(): Promise<{ url: string; vendor: PublisherClient }> {
  fx = await createFixture();
  const { token } = await fx.addVendor('acme');
  server = await listen(fx.node.app);
  return { url: server.url, vendor: new PublisherClient(server.url, token) };
}

function manifestFile(severity: string, rollout?: unknown): string {
  const dir = fx!.dir;
  writeFileSync(join(dir, 'agent.bin'), 'patched bytes');
  const path = join(dir, `manifest-${severity}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      vendor: 'acme',
      product: 'acme-agent',
      version: '2.4.1',
      severity,
      applies_to: '<2.4.1',
      release_at: '+2m',
      artifacts: [{ platform: 'linux-x64', file: 'agent.bin' }],
      ...(rollout ? { rollout } : {}),
    }),
  );
  return path;
}

describe('publishing a staged rollout', () => {
  it('--stages is signed into every target of the release, as the integer plan', async () => {
    const { vendor } = await serve();
    const result = await publishManifest({
      manifestPath: manifestFile('high', { stages: [{ percent: 100 }], pause_on: { failures: 3 } }),
      client: vendor,
      vendorKey: fx!.vendors.get('acme')!.key,
      now: () => fx!.clock.now(),
      stages: parseStagesFlag('1%,10%@1h,100%@6h'),
    });
    expect(result.rollout).toBe('1% at +0s, 10% at +1h, 100% at +6h');
    const latest = await vendor.latestVendorMetadata('acme');
    expect(latest.signed.targets['acme/agent.bin']!.custom!.rollout).toEqual({
      v: 1,
      stages: [
        { percent_bp: 100, after_s: 0 },
        { percent_bp: 1000, after_s: 3600 },
        { percent_bp: 10000, after_s: 21600 },
      ],
      pause_on: { failures: 3 },
    });
  });

  it('a critical release with stages is refused before any byte is sent, unless asked for', async () => {
    const { vendor } = await serve();
    const publish = (rollout: unknown) =>
      publishManifest({
        manifestPath: manifestFile('critical', rollout),
        client: vendor,
        vendorKey: fx!.vendors.get('acme')!.key,
        now: () => fx!.clock.now(),
      });
    const stages = [{ percent: 5 }, { percent: 100, after: '1h' }];
    await expect(publish({ stages })).rejects.toMatchObject({ code: 'MANIFEST_INVALID' });
    expect((await vendor.latestVendorMetadata('acme')).signed.version).toBe(1);
    const asked = await publish({ stages, allow_critical_staging: true });
    expect(asked.rollout).toBe('5% at +0s, 100% at +1h');
  });

  it('the node refuses signed metadata whose plan no verifier would accept', async () => {
    const { vendor } = await serve();
    const key = fx!.vendors.get('acme')!.key;
    const artifact = await fx!.artifact('x.bin', 'x');
    const base = buildRelease({
      manifest: {
        vendor: 'acme',
        product: 'acme-agent',
        version: '2.4.1',
        channel: 'stable',
        severity: 'high',
        cves: [],
        applies_to: '<2.4.1',
        release_at: '+2m',
        artifacts: [],
      },
      artifacts: [artifact],
      releaseAt: fx!.clock.now() + 2 * MINUTE,
      previous: (await vendor.latestVendorMetadata('acme')).signed,
      vendorKey: key,
      now: fx!.clock.now(),
    }).signed;
    const withPlan = (custom: Record<string, unknown>): Envelope<TargetsSigned> => {
      const signed = structuredClone(base);
      Object.assign(signed.targets['acme/x.bin']!.custom!, custom);
      return signEnvelope(signed, [key]);
    };
    const staged = [
      { percent_bp: 500, after_s: 0 },
      { percent_bp: 10000, after_s: 3600 },
    ];
    const refused = [
      // A critical fix staged without the vendor saying so.
      { severity: 'critical', rollout: { v: 1, stages: staged } },
      // Stages out of order; a share above everyone; a last stage short of everyone.
      { rollout: { v: 1, stages: [...staged].reverse() } },
      { rollout: { v: 1, stages: [{ percent_bp: 10001, after_s: 0 }] } },
      { rollout: { v: 1, stages: [{ percent_bp: 5000, after_s: 0 }] } },
      { rollout: { v: 1, stages: staged, extra: true } },
    ];
    for (const custom of refused)
      await expect(
        vendor.postJson('/vendors/acme/metadata', withPlan(custom)),
        JSON.stringify(custom),
      ).rejects.toMatchObject({ status: 400, code: 'METADATA_INVALID' });
    const ok = await vendor.postJson(
      '/vendors/acme/metadata',
      withPlan({
        severity: 'critical',
        rollout: { v: 1, stages: staged, allow_critical_staging: true },
      }),
    );
    expect(ok).toMatchObject({ version: 2 });
  });
});
