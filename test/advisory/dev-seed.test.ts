import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seedExamples } from '../../src/server/dev-seed.js';
import { type Fixture, createFixture, listen } from '../helpers/repo.js';
import { fullAdvisory } from './samples.js';
import { osvErrors } from './validators.js';

let fx: Fixture;
let server: { url: string; close(): Promise<void> };
beforeEach(async () => {
  fx = await createFixture();
  server = await listen(fx.node.app);
});
afterEach(async () => {
  await server.close();
  await fx.close();
});

describe('the demo seed (fairpatch serve --dev)', () => {
  it('publishes an example manifest’s advisory with its fix, as fairpatch publish does', async () => {
    const dir = join(fx.dir, 'manifests');
    mkdirSync(dir);
    writeFileSync(join(dir, 'fix.sh'), 'echo fixed\n');
    writeFileSync(
      join(dir, 'acme.json'),
      JSON.stringify({
        vendor: 'acme',
        product: 'acme-agent',
        version: '2.4.1',
        severity: 'critical',
        applies_to: '<2.4.1',
        release_at: '+60s',
        advisory: fullAdvisory,
        artifacts: [{ platform: 'linux-x64', file: 'fix.sh' }],
      }),
    );
    const [seeded] = await seedExamples(fx.node, { manifestsDir: dir, keysDir: fx.keysDir });
    fx.clock.set(Date.parse(seeded!.activatesAt));
    const response = await fetch(`${server.url}/osv/x_${fullAdvisory.id}.json`);
    expect(response.status).toBe(200);
    expect(osvErrors(await response.json())).toEqual([]);
  });
});
