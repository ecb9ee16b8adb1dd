import { get } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { acceptsGzip } from '../../src/http/compression.js';
import { tickStart } from '../../src/common/tick.js';
import type { HashedArtifact } from '../../src/publish/build.js';
import { type Fixture, MINUTE, SECOND, createFixture, listen } from '../helpers/repo.js';

const IMMUTABLE = 'public, max-age=31536000, immutable';

describe('HTTP caching of the TUF routes', () => {
  let fx: Fixture;
  let artifact: HashedArtifact;
  let pendingVersion: number;

  beforeAll(async () => {
    fx = await createFixture();
    await fx.addVendor('acme');
    artifact = await fx.artifact('agent.sh', '0123456789abcdef');
    await fx.stage('acme', {}, [artifact], fx.clock.now() + MINUTE);
    fx.clock.advance(MINUTE + 250);
    // A second release, still pending: its metadata is a 404 until its tick.
    const later = await fx.artifact('agent-2.sh', 'fedcba9876543210');
    const staged = await fx.release(
      'acme',
      { version: '2.4.2' },
      [later],
      fx.clock.now() + 10 * MINUTE,
    );
    await fx.node.repo.stageVendorMetadata('acme', staged);
    pendingVersion = staged.signed.version;
  });
  afterAll(() => fx.close());

  const request = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    fx.node.app.request(path, { method, headers });

  it('timestamp.json: fresh for no time, Expires and the nginx expiry at the end of its tick, an ETag', async () => {
    const k = fx.node.repo.currentTick();
    const end = tickStart(fx.node.repo.config, k + 1);
    const response = await request('/g/eu/metadata/timestamp.json');
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(response.headers.get('cache-control')).toBe(
      'public, max-age=0, s-maxage=0, must-revalidate',
    );
    expect(response.headers.get('expires')).toBe(new Date(end).toUTCString());
    expect(response.headers.get('x-accel-expires')).toBe(`@${end / 1000 - 1}`);
    expect(response.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);
    expect(response.headers.get('content-length')).toBe(String(bytes.length));
    expect(response.headers.get('content-encoding')).toBeNull();
  });

  it('answers If-None-Match with 304 within the tick and with the new document after it', async () => {
    const first = await request('/metadata/timestamp.json');
    const etag = first.headers.get('etag')!;
    for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const again = await request('/metadata/timestamp.json', { 'if-none-match': header });
      expect(again.status, header).toBe(304);
      expect(await again.text()).toBe('');
      expect(again.headers.get('etag')).toBe(etag);
      expect(again.headers.get('expires')).toBe(first.headers.get('expires'));
    }
    fx.clock.advance(SECOND);
    const next = await request('/metadata/timestamp.json', { 'if-none-match': etag });
    expect(next.status).toBe(200);
    expect(next.headers.get('etag')).not.toBe(etag);
  });

  it('never compresses timestamp.json (it fits one packet) and never varies it', async () => {
    const response = await request('/metadata/timestamp.json', { 'accept-encoding': 'gzip' });
    expect(response.headers.get('content-encoding')).toBeNull();
    expect(response.headers.get('vary')).toBeNull();
  });

  it('versioned metadata: immutable, strong ETag, 304, exact lengths on HEAD', async () => {
    const snapshot = JSON.parse(await (await request('/metadata/timestamp.json')).text()).signed
      .meta['snapshot.json'].version;
    for (const path of [
      `/metadata/${snapshot}.snapshot.json`,
      '/metadata/1.root.json',
      '/g/eu/metadata/2.acme.json',
    ]) {
      const response = await request(path);
      const bytes = Buffer.from(await response.arrayBuffer());
      expect(response.headers.get('cache-control'), path).toBe(IMMUTABLE);
      const etag = response.headers.get('etag')!;
      expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
      expect((await request(path, { 'if-none-match': etag })).status, path).toBe(304);
      const head = await request(path, {}, 'HEAD');
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length'), path).toBe(String(bytes.length));
      expect(await head.text()).toBe('');
    }
  });

  it('gzips versioned metadata only where it pays, with its own ETag and Vary', async () => {
    const plain = await request('/metadata/1.root.json');
    const bytes = Buffer.from(await plain.arrayBuffer());
    expect(bytes.length).toBeGreaterThan(1400);
    expect(plain.headers.get('vary')).toBe('Accept-Encoding');
    const zipped = await request('/metadata/1.root.json', {
      'accept-encoding': 'gzip, deflate, br',
    });
    expect(zipped.headers.get('content-encoding')).toBe('gzip');
    expect(zipped.headers.get('vary')).toBe('Accept-Encoding');
    expect(zipped.headers.get('etag')).not.toBe(plain.headers.get('etag'));
    expect(zipped.headers.get('cache-control')).toBe(IMMUTABLE);
    // Compare over the wire: the in-process request hands back the encoded bytes as they are.
    const raw = Buffer.from(await zipped.arrayBuffer());
    expect(Number(zipped.headers.get('content-length'))).toBe(raw.length);
    expect(gunzipSync(raw).equals(bytes)).toBe(true);
    expect(
      (await request('/metadata/1.root.json', { 'accept-encoding': 'gzip;q=0' })).headers.get(
        'content-encoding',
      ),
    ).toBeNull();
    // A small file (one packet) is sent as it is.
    const small = await request('/metadata/2.acme.json', { 'accept-encoding': 'gzip' });
    expect(small.headers.get('content-encoding')).toBeNull();
  });

  it('targets: immutable, the content hash as ETag, never compressed, HEAD without a body', async () => {
    const path = `/g/eu/targets/acme/${artifact.sha256}.agent.sh`;
    const response = await request(path, { 'accept-encoding': 'gzip' });
    expect(response.headers.get('cache-control')).toBe(IMMUTABLE);
    expect(response.headers.get('etag')).toBe(`"${artifact.sha256}"`);
    expect(response.headers.get('content-encoding')).toBeNull();
    expect(await response.text()).toBe('0123456789abcdef');
    expect((await request(path, { 'if-none-match': `"${artifact.sha256}"` })).status).toBe(304);
    const head = await request(path, {}, 'HEAD');
    expect(head.headers.get('content-length')).toBe('16');
    expect(await head.text()).toBe('');
  });

  it('HEAD over a real socket tells the same length as GET', async () => {
    const server = await listen(fx.node.app);
    try {
      for (const path of ['/metadata/timestamp.json', '/metadata/1.root.json']) {
        const got = await fetch(server.url + path, { headers: { 'accept-encoding': 'identity' } });
        const length = (await got.arrayBuffer()).byteLength;
        const head = await fetch(server.url + path, {
          method: 'HEAD',
          headers: { 'accept-encoding': 'identity' },
        });
        expect(head.headers.get('content-length'), path).toBe(String(length));
      }
    } finally {
      await server.close();
    }
  });

  it('sends the nginx expiry before Cache-Control (nginx 1.22 stops at max-age=0)', async () => {
    const server = await listen(fx.node.app);
    try {
      const raw = await new Promise<string[]>((resolve, reject) => {
        get(server.url + '/g/eu/metadata/timestamp.json', (res) => {
          res.resume();
          resolve(res.rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase()));
        }).on('error', reject);
      });
      expect(raw.indexOf('x-accel-expires')).toBeGreaterThanOrEqual(0);
      expect(raw.indexOf('x-accel-expires')).toBeLessThan(raw.indexOf('cache-control'));
    } finally {
      await server.close();
    }
  });

  it('pending files, unknown files and refusals are never stored by a cache', async () => {
    const sha = 'f'.repeat(64);
    for (const path of [
      `/metadata/${pendingVersion}.acme.json`,
      '/g/eu/metadata/99.snapshot.json',
      '/metadata/nope.json',
      `/targets/acme/${sha}.agent.sh`,
    ]) {
      const response = await request(path);
      expect(response.status, path).toBe(404);
      expect(response.headers.get('cache-control'), path).toBe('no-store');
    }
    const stale = createApp({ ...fx.node.appDeps, maxStateAgeMs: () => -1 });
    const refused = await stale.request('/g/eu/metadata/timestamp.json');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('cache-control')).toBe('no-store');
  });

  it('reads Accept-Encoding as RFC 9110 says', () => {
    expect(acceptsGzip('gzip')).toBe(true);
    expect(acceptsGzip('br, gzip;q=0.5')).toBe(true);
    expect(acceptsGzip('gzip;q=0')).toBe(false);
    expect(acceptsGzip('*')).toBe(true);
    expect(acceptsGzip('*, gzip;q=0')).toBe(false);
    expect(acceptsGzip('identity')).toBe(false);
    expect(acceptsGzip(undefined)).toBe(false);
  });
});
