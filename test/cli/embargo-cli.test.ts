import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, createFixture, listen } from '../helpers/repo.js';
import { cli } from '../helpers/cli.js';

// Needs `npx tsc -p tsconfig.build.json` first (the built CLI, run as a user would).

describe('fairpatch embargo and publish --embargo, through the real CLI', () => {
  let fx: Fixture;
  let server: { url: string; close(): Promise<void> };

  beforeAll(async () => {
    fx = await createFixture();
    for (const v of ['acme', 'quill', 'globex']) await fx.addVendor(v);
    server = await listen(fx.node.app);
  });
  afterAll(async () => {
    await server.close();
    await fx.close();
  });

  it('the coordinator creates and moves it; a member publishes into it at its time and reads who is ready; others see nothing', async () => {
    const operator = ['--server', server.url, '--token', fx.operatorToken];
    const created = await cli([
      'embargo',
      'create',
      'CVE-2026-4242',
      '--release-at',
      '+3m',
      '--members',
      'acme,quill',
      '--members',
      'globex',
      ...operator,
    ]);
    expect(created.code, created.stderr).toBe(0);
    const view = JSON.parse(created.stdout) as {
      release_at: string;
      members: Array<{ vendor: string; ready: boolean }>;
    };
    expect(view.members.map((m) => m.vendor)).toEqual(['acme', 'globex', 'quill']);

    writeFileSync(join(fx.dir, 'fix.sh'), 'echo fixed\n');
    // The manifest says +30s: into the embargo, the embargo's time wins.
    const manifest = {
      vendor: 'acme',
      product: 'acme-lib',
      version: '1.0.1',
      channel: 'stable',
      severity: 'critical',
      cves: ['CVE-2026-4242'],
      applies_to: '<1.0.1',
      release_at: '+30s',
      artifacts: [{ platform: 'any', file: 'fix.sh' }],
    };
    writeFileSync(join(fx.dir, 'acme.json'), JSON.stringify(manifest));
    const acme = ['--server', server.url, '--token', fx.vendors.get('acme')!.token];
    const published = await cli([
      'publish',
      join(fx.dir, 'acme.json'),
      '--embargo',
      'CVE-2026-4242',
      '--key',
      join(fx.keysDir, 'acme.key'),
      ...acme,
    ]);
    expect(published.code, published.stderr).toBe(0);
    expect(JSON.parse(published.stdout).releaseAt).toBe(new Date(view.release_at).toISOString());

    const shown = await cli(['embargo', 'show', 'CVE-2026-4242', ...acme]);
    expect(
      JSON.parse(shown.stdout)
        .members.filter((m: { ready: boolean }) => m.ready)
        .map((m: { vendor: string }) => m.vendor),
    ).toEqual(['acme']);
    const outsider = await cli([
      'embargo',
      'show',
      'CVE-2026-4242',
      '--server',
      server.url,
      '--token',
      fx.vendors.get('globex')!.token.replace(/.$/, 'x'),
    ]);
    expect(outsider.code).not.toBe(0);

    const moved = await cli([
      'embargo',
      'move',
      'CVE-2026-4242',
      '--release-at',
      '+10m',
      ...operator,
    ]);
    expect(moved.code, moved.stderr).toBe(0);
    expect(Date.parse(JSON.parse(moved.stdout).release_at)).toBeGreaterThan(
      Date.parse(view.release_at),
    );
    const decided = await cli([
      'embargo',
      'decide',
      'CVE-2026-4242',
      '--leave-out',
      'quill',
      ...operator,
    ]);
    expect(decided.code, decided.stderr).toBe(0);
    expect(
      JSON.parse(decided.stdout).members.find((m: { vendor: string }) => m.vendor === 'quill')
        .left_out,
    ).toBe(true);

    expect(
      (
        await cli([
          'embargo',
          'create',
          'not an id!',
          '--release-at',
          '+3m',
          '--members',
          'acme',
          ...operator,
        ])
      ).code,
    ).toBe(64);
  });
});
