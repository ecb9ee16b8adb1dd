import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PublisherClient } from '../../src/publish/client.js';
import { cli } from '../helpers/cli.js';
import { type Fixture, createFixture, listen } from '../helpers/repo.js';

// The vendor's commands, as a vendor types them: publish --stages, then rollout pause.

let fx: Fixture | undefined;
let server: { url: string; close(): Promise<void> } | undefined;
afterEach(async () => {
  await server?.close();
  await fx?.close();
  server = fx = undefined;
});

describe('fairpatch publish --stages and fairpatch rollout', () => {
  it('stages a release from the command line, then pauses it by a new signed version', async () => {
    fx = await createFixture();
    const { token } = await fx.addVendor('acme');
    server = await listen(fx.node.app);
    writeFileSync(join(fx.dir, 'fix.sh'), '#!/bin/sh\necho fixed\n');
    const manifest = join(fx.dir, 'fix.json');
    writeFileSync(
      manifest,
      JSON.stringify({
        vendor: 'acme',
        product: 'acme-agent',
        version: '2.4.1',
        severity: 'high',
        applies_to: '<2.4.1',
        release_at: '+2m',
        artifacts: [{ platform: 'linux-x64', file: 'fix.sh' }],
      }),
    );
    const vendor = [
      '--server',
      server.url,
      '--key',
      join(fx.keysDir, 'acme.key'),
      '--token',
      token,
    ];

    const refused = await cli(['publish', manifest, '--stages', '10%,5%@1h,100%@2h', ...vendor]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/each stage reaches more agents than the one before/);

    const published = await cli(['publish', manifest, '--stages', '10%,100%@1h', ...vendor]);
    expect(published.code, published.stderr).toBe(0);
    expect(published.stderr).toMatch(/; staged: 10% at \+0s, 100% at \+1h\n$/);

    const bad = await cli([
      'rollout',
      'stop',
      'acme',
      '2.4.1',
      '--product',
      'acme-agent',
      ...vendor,
    ]);
    expect(bad.code).toBe(64);
    const paused = await cli([
      'rollout',
      'pause',
      'acme',
      '2.4.1',
      '--product',
      'acme-agent',
      '--at',
      '+3m',
      ...vendor,
    ]);
    expect(paused.code, paused.stderr).toBe(0);
    expect(JSON.parse(paused.stdout)).toMatchObject({
      version: 3,
      target: 'acme/rollout-acme-agent-2.4.1-1.json',
    });
    const latest = await new PublisherClient(server.url, token).latestVendorMetadata('acme');
    expect(latest.signed.targets['acme/rollout-acme-agent-2.4.1-1.json']!.custom).toMatchObject({
      product: 'acme-agent',
      version: '2.4.1',
      platform: 'any',
      rollout_action: { action: 'pause' },
    });
    // Nothing staged to pause: refused, nothing signed.
    const none = await cli([
      'rollout',
      'pause',
      'acme',
      '9.9.9',
      '--product',
      'acme-agent',
      ...vendor,
    ]);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/no staged release of acme-agent 9\.9\.9/);
  });
});
