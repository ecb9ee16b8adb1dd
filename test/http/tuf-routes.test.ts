import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createApp } from '../../src/http/app.js';
import { manifestSchema } from '../../src/publish/manifest.js';
import type { HashedArtifact } from '../../src/publish/build.js';
import { type Fixture, MINUTE, createFixture } from '../helpers/repo.js';
import { DIALECTS, freshDatabase } from '../helpers/dialects.js';

describe.each(DIALECTS)('%s', (dialect) => {
  let fx: Fixture;
  let artifact: HashedArtifact;

  beforeAll(async () => {
    fx = await createFixture({ databaseUrl: await freshDatabase(dialect) });
    await fx.addVendor('acme');
    artifact = await fx.artifact('agent.sh', '0123456789abcdef');
    await fx.stage('acme', {}, [artifact], fx.clock.now() + MINUTE);
    fx.clock.advance(MINUTE + 250);
  });
  afterAll(() => fx.close());

  describe('TUF routes', () => {
    it('lets CDNs cache immutable files forever and timestamp.json for at most the rest of its tick', async () => {
      const ts = await fx.node.app.request('/metadata/timestamp.json');
      expect(ts.headers.get('cache-control')).toBe(
        'public, max-age=0, s-maxage=0, must-revalidate',
      );
      const snapshot = JSON.parse(await ts.text()).signed.meta['snapshot.json'].version;
      for (const path of [
        `/metadata/${snapshot}.snapshot.json`,
        '/metadata/1.root.json',
        '/metadata/2.acme.json',
        `/targets/acme/${artifact.sha256}.agent.sh`,
      ]) {
        const response = await fx.node.app.request(path);
        expect(response.status, path).toBe(200);
        expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      }
    });

    it('counts polls per group, in memory', async () => {
      for (let i = 0; i < 3; i++) await fx.node.app.request('/g/tier-gold/metadata/timestamp.json');
      const served = fx.node.counter.peek().get('tier-gold');
      expect([...served!.values()].reduce((n, d) => n + d.polls, 0)).toBe(3);
    });

    it('serves byte ranges of released artifacts (resumable downloads)', async () => {
      const response = await fx.node.app.request(`/g/eu/targets/acme/${artifact.sha256}.agent.sh`, {
        headers: { range: 'bytes=4-7' },
      });
      expect(response.status).toBe(206);
      expect(response.headers.get('content-range')).toBe('bytes 4-7/16');
      expect(await response.text()).toBe('4567');
      const bad = await fx.node.app.request(`/targets/acme/${artifact.sha256}.agent.sh`, {
        headers: { range: 'bytes=99-' },
      });
      expect(bad.status).toBe(416);
    });

    it('answers 503 rather than serve a state it cannot vouch for', async () => {
      const stale = createApp({ ...fx.node.appDeps, maxStateAgeMs: () => -1 });
      const response = await stale.request('/metadata/timestamp.json');
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('1');
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('NOT_READY');
    });
  });

  describe('manifests', () => {
    it('schema.json is generated from the validator the server and CLI use', () => {
      const committed = JSON.parse(
        readFileSync(new URL('../../manifests/schema.json', import.meta.url), 'utf8'),
      );
      const { title, ...schema } = committed;
      expect(title).toBe('fairpatch patch manifest');
      expect(schema).toEqual(
        JSON.parse(JSON.stringify(z.toJSONSchema(manifestSchema, { io: 'input' }))),
      );
    });
  });
});
