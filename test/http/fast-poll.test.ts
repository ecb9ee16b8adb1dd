import { type Server, createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fastPoll } from '../../src/http/fast-poll.js';
import { getRequestListener } from '@hono/node-server';
import { pollFront } from '../../src/server/listener.js';
import { type Fixture, createFixture } from '../helpers/repo.js';

interface Answer {
  status: number;
  headers: string[];
  body: Buffer;
}

function request(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    get(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.rawHeaders,
          body: Buffer.concat(chunks),
        }),
      );
    }).on('error', reject);
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The headers a cache reads, in wire order, without Date (which moves). */
const cacheHeaders = (a: Answer) =>
  a.headers
    .filter((_, i) => i % 2 === 0 && !/^(date|connection|keep-alive)$/i.test(a.headers[i] ?? ''))
    .map((name) => `${name.toLowerCase()}: ${a.headers[a.headers.indexOf(name) + 1]}`);

describe('the poll fast path', () => {
  let fx: Fixture;
  let fast: Server;
  let base: string;

  beforeAll(async () => {
    fx = await createFixture();
    const app = getRequestListener(fx.node.app.fetch);
    fast = createServer(pollFront(fx.node, () => false)((req, res) => void app(req, res)));
    base = await listen(fast);
  });
  afterAll(async () => {
    await new Promise((r) => fast.close(r));
    await fx.close();
  });

  it('sends what the Hono route sends, header for header, and counts the poll', async () => {
    const viaHono = await fx.node.app.request('/g/eu/metadata/timestamp.json');
    const answer = await request(`${base}/g/eu/metadata/timestamp.json`);
    expect(answer.status).toBe(200);
    expect(answer.body.equals(Buffer.from(await viaHono.arrayBuffer()))).toBe(true);
    const expected = [...viaHono.headers].map(([name, value]) => `${name}: ${value}`).sort();
    expect([...cacheHeaders(answer)].sort()).toEqual(expected);
    expect(cacheHeaders(answer)[0]).toMatch(/^x-accel-expires: @\d+$/);
    const before = [...(fx.node.counter.peek().get('tier-gold')?.values() ?? [])].reduce(
      (n, d) => n + d.polls,
      0,
    );
    await request(`${base}/g/tier-gold/metadata/timestamp.json`);
    await request(`${base}/metadata/timestamp.json`);
    expect(
      [...fx.node.counter.peek().get('tier-gold')!.values()].reduce((n, d) => n + d.polls, 0),
    ).toBe(before + 1);
    expect(fx.node.counter.peek().get('_')).toBeDefined();
  });

  it('leaves everything else to the app: conditional requests, bad or encoded groups, other files', async () => {
    const first = await request(`${base}/metadata/timestamp.json`);
    const etag = first.headers[first.headers.findIndex((h) => h.toLowerCase() === 'etag') + 1]!;
    expect(
      (await request(`${base}/metadata/timestamp.json`, { 'if-none-match': etag })).status,
    ).toBe(304);
    for (const path of [
      '/g/EU/metadata/timestamp.json',
      '/g/_/metadata/timestamp.json',
      '/g/a%2Fb/metadata/timestamp.json',
      '/g/a/b/metadata/timestamp.json',
    ]) {
      const answer = await request(base + path);
      expect(answer.status, path).toBeGreaterThanOrEqual(400);
      expect(answer.headers.map((h) => h.toLowerCase())).toContain('no-store');
    }
    expect((await request(`${base}/metadata/1.root.json`)).status).toBe(200);
    expect((await request(`${base}/healthz`)).status).toBe(200);
  });

  it('declines for a node whose state is too old (the app answers 503)', async () => {
    const declined = createServer(
      fastPoll(
        { repo: fx.node.repo, counter: fx.node.counter, maxStateAgeMs: () => -1 },
        (_req, res) => res.writeHead(503).end(),
      ),
    );
    const url = await listen(declined);
    try {
      expect((await request(`${url}/metadata/timestamp.json`)).status).toBe(503);
    } finally {
      await new Promise((r) => declined.close(r));
    }
  });
});
