import { type Server, get } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_HTTP_OPTIONS, startHttpServer } from '../../src/server/http-server.js';
import { pollDeps } from '../../src/serving/poll-deps.js';
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

/** The headers a cache reads, in wire order, without Date (which moves). */
const cacheHeaders = (a: Answer) =>
  a.headers
    .filter((_, i) => i % 2 === 0 && !/^(date|connection|keep-alive)$/i.test(a.headers[i] ?? ''))
    .map((name) => `${name.toLowerCase()}: ${a.headers[a.headers.indexOf(name) + 1]}`);

/**
 * Sends `bytes` on one connection (in the given writes), half-closes, and returns everything the
 * server sent until it closed: the raw material for comparing two servers byte stream by stream.
 */
function exchange(port: number, writes: (string | Buffer)[], pauseMs = 30): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    const socket = connect(port, '127.0.0.1');
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.once('close', () => resolve(data));
    socket.once('connect', async () => {
      for (const w of writes) {
        socket.write(w);
        await new Promise((r) => setTimeout(r, pauseMs));
      }
      socket.end();
    });
  });
}

/** The status codes of every response in a byte stream (bodies are JSON: no status lines in them). */
const statuses = (stream: string) => [...stream.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);

const POLL = (group: string, extra = '') =>
  `GET /g/${group}/metadata/timestamp.json HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

describe('the poll fast paths', () => {
  let fx: Fixture;
  let fast: Server;
  let plain: Server;
  let base: string;
  let fastPort: number;
  let plainPort: number;
  const polls = (group: string) =>
    [...(fx.node.counter.peek().get(group)?.values() ?? [])].reduce((n, d) => n + d.polls, 0);

  beforeAll(async () => {
    fx = await createFixture();
    const options = {
      port: 0,
      hostname: '127.0.0.1',
      trustProxy: { kind: 'none' } as const,
      ...DEFAULT_HTTP_OPTIONS,
    };
    fast = await startHttpServer(fx.node.app.fetch, { ...options, poll: pollDeps(fx.node) });
    plain = await startHttpServer(fx.node.app.fetch, options);
    fastPort = (fast.address() as AddressInfo).port;
    plainPort = (plain.address() as AddressInfo).port;
    base = `http://127.0.0.1:${fastPort}`;
  });
  afterAll(async () => {
    for (const s of [fast, plain]) await new Promise((r) => s.close(r));
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
    // What node:http adds, as node:http adds it.
    const viaNode = await request(`http://127.0.0.1:${plainPort}/g/eu/metadata/timestamp.json`);
    const added = (a: Answer) =>
      a.headers.filter((_, i) => i % 2 === 0 && /^(connection|keep-alive)$/i.test(a.headers[i]!));
    expect(added(answer)).toEqual(added(viaNode));
    const before = polls('tier-gold');
    await request(`${base}/g/tier-gold/metadata/timestamp.json`);
    await request(`${base}/metadata/timestamp.json`);
    expect(polls('tier-gold')).toBe(before + 1);
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

  // Each byte stream goes to a server with the socket-level path and to one without: the two must
  // answer the same requests with the same statuses, or one of them frames requests differently.
  it.each([
    [
      'pipelined polls then a POST with a body then a poll',
      [
        POLL('eu') +
          POLL('us') +
          POLL('eu') +
          'POST /api/v1/receipts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}' +
          POLL('eu'),
      ],
    ],
    [
      'a poll claiming a body that looks like a request',
      [POLL('eu', 'Content-Length: 41\r\n') + POLL('ap').slice(0, 41) + POLL('eu')],
    ],
    ['a chunked poll', [POLL('eu', 'Transfer-Encoding: chunked\r\n') + '0\r\n\r\n' + POLL('eu')]],
    [
      'Content-Length and Transfer-Encoding together',
      [
        POLL('eu', 'Content-Length: 4\r\nTransfer-Encoding: chunked\r\n') +
          '0\r\n\r\n' +
          POLL('eu'),
      ],
    ],
    [
      'bare LF line endings',
      ['GET /g/eu/metadata/timestamp.json HTTP/1.1\nHost: x\n\n' + POLL('eu')],
    ],
    ['obsolete line folding', [POLL('eu', 'X-A: 1\r\n  folded\r\n') + POLL('eu')]],
    ['no Host', ['GET /g/eu/metadata/timestamp.json HTTP/1.1\r\n\r\n']],
    ['two Hosts', [POLL('eu', 'Host: y\r\n')]],
    ['HTTP/1.0', ['GET /g/eu/metadata/timestamp.json HTTP/1.0\r\n\r\n']],
    ['a request split across writes', [POLL('eu').slice(0, 20), POLL('eu').slice(20) + POLL('us')]],
    ['a header block split at its end', [POLL('eu').slice(0, -1), '\n']],
    ['Connection: close', [POLL('eu', 'Connection: close\r\n')]],
    ['HEAD', ['HEAD /g/eu/metadata/timestamp.json HTTP/1.1\r\nHost: x\r\n\r\n' + POLL('eu')]],
    ['a range request', [POLL('eu', 'Range: bytes=0-9\r\n') + POLL('eu')]],
    ['a query string', ['GET /g/eu/metadata/timestamp.json?x=1 HTTP/1.1\r\nHost: x\r\n\r\n']],
    ['a control byte in a header', [POLL('eu', 'X-A: a\x01b\r\n') + POLL('eu')]],
    ['an upgrade', [POLL('eu', 'Connection: Upgrade\r\nUpgrade: websocket\r\n')]],
  ] as [string, string[]][])(
    '%s: answered as node:http alone answers it',
    async (_name, writes) => {
      const viaFast = await exchange(fastPort, writes);
      const viaPlain = await exchange(plainPort, writes);
      expect(statuses(viaFast)).toEqual(statuses(viaPlain));
      expect(statuses(viaFast).length).toBeGreaterThan(0);
    },
  );

  it('answers a flood of pipelined polls from a client that does not read, once it reads', async () => {
    const n = 5000;
    const before = polls('flood');
    const stream = await new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const socket = connect(fastPort, '127.0.0.1');
      socket.pause(); // read nothing until everything is sent
      socket.on('error', reject);
      socket.once('connect', () => {
        socket.write(POLL('flood').repeat(n) + POLL('flood', 'Connection: close\r\n'), () => {
          socket.on('data', (c: Buffer) => chunks.push(c));
          socket.once('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
          socket.resume();
        });
      });
    });
    expect(statuses(stream)).toEqual(Array(n + 1).fill('200'));
    expect(polls('flood')).toBe(before + n + 1);
  });

  it('survives clients that reset the connection right after asking, close or keep-alive', async () => {
    for (let i = 0; i < 20; i++) {
      const socket = connect(fastPort, '127.0.0.1');
      socket.on('error', () => {});
      await new Promise((r) => socket.once('connect', r));
      socket.write(i % 2 ? POLL('eu', 'Connection: close\r\n') : POLL('eu').repeat(200));
      socket.resetAndDestroy();
    }
    // An 'error' nobody listened for would have ended the process; the server still answers.
    expect(statuses(await exchange(fastPort, [POLL('eu', 'Connection: close\r\n')]))).toEqual([
      '200',
    ]);
  });

  it('closes idle connections it holds when the server closes', async () => {
    const server = await startHttpServer(fx.node.app.fetch, {
      port: 0,
      hostname: '127.0.0.1',
      trustProxy: { kind: 'none' },
      ...DEFAULT_HTTP_OPTIONS,
      poll: pollDeps(fx.node),
    });
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    const answered = new Promise((r) => socket.once('data', r));
    const ended = new Promise((r) => socket.once('close', r));
    socket.write(POLL('eu'));
    await answered;
    const closed = Date.now();
    await new Promise((r) => server.close(r)); // would wait for the keep-alive connection otherwise
    await ended;
    // Ended by the close, not by the keep-alive timeout (5 s) that would end it anyway.
    expect(Date.now() - closed).toBeLessThan(server.keepAliveTimeout);
  });

  it('declines for a node whose state is too old (the app answers)', async () => {
    let fastAnswers = 0;
    const server = await startHttpServer(fx.node.app.fetch, {
      port: 0,
      hostname: '127.0.0.1',
      trustProxy: { kind: 'none' },
      ...DEFAULT_HTTP_OPTIONS,
      poll: { ...pollDeps(fx.node), maxStateAgeMs: () => -1, onPoll: () => fastAnswers++ },
    });
    try {
      const stream = await exchange((server.address() as AddressInfo).port, [POLL('eu')]);
      expect(statuses(stream)).toEqual(['200']);
      expect(fastAnswers).toBe(0);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
