import type { Server as HttpServer } from 'node:http';
import { connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTrustProxy, type TrustProxy } from '../../src/http/client-address.js';
import type { FairpatchNode } from '../../src/server/node.js';
import {
  DEFAULT_HTTP_OPTIONS,
  type HttpServerOptions,
  startHttpServer,
} from '../../src/server/http-server.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Fixture, createFixture, installReport } from '../helpers/repo.js';
import { cli, startServer } from '../helpers/cli.js';
import { until } from '../helpers/until.js';

/** The node's own HTTP server wiring on 127.0.0.1, a free port. */
async function start(
  node: FairpatchNode,
  options: Partial<HttpServerOptions> = {},
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = await startHttpServer(node.app.fetch, {
    port: 0,
    hostname: '127.0.0.1',
    trustProxy: { kind: 'none' },
    ...DEFAULT_HTTP_OPTIONS,
    ...options,
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as HttpServer).closeAllConnections();
      }),
  };
}

const trust = (text: string): TrustProxy => parseTrustProxy(text) as TrustProxy;

/** A raw TCP connection: what it received, and a promise for its close (bounded by the test timeout). */
function rawConnection(
  port: number,
): Promise<{ socket: Socket; received: () => string; closed: Promise<string> }> {
  return new Promise((resolve, reject) => {
    let data = '';
    const socket = connect(port, '127.0.0.1');
    const closed = new Promise<string>((done) => socket.once('close', () => done(data)));
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

const errorCode = (response: string): string | undefined =>
  (/"code":"([A-Z_]+)"/.exec(response) ?? [])[1];

let fx: Fixture;
beforeAll(async () => {
  fx = await createFixture();
});
afterAll(() => fx.close());

describe('slow clients are bounded by node:http deadlines', () => {
  it('a trickled request body is cut off at the request timeout with 408 REQUEST_TIMEOUT', async () => {
    const http = await start(fx.node, { requestTimeoutMs: 1000, headersTimeoutMs: 500 });
    try {
      const c = await rawConnection(http.port);
      c.socket.write(
        'POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{',
      );
      const trickle = setInterval(() => c.socket.writable && c.socket.write(' '), 100);
      const response = await c.closed;
      clearInterval(trickle);
      expect(response).toMatch(/^HTTP\/1\.1 408 /);
      expect(errorCode(response)).toBe('REQUEST_TIMEOUT');
      // The server is fine afterwards.
      expect((await fetch(`http://127.0.0.1:${http.port}/healthz`)).status).toBe(200);
    } finally {
      await http.close();
    }
  });

  it('headers sent a line at a time are cut off at the headers timeout', async () => {
    const http = await start(fx.node, { requestTimeoutMs: 5000, headersTimeoutMs: 500 });
    try {
      const c = await rawConnection(http.port);
      c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
      const trickle = setInterval(() => c.socket.writable && c.socket.write('X-Slow: 1\r\n'), 100);
      const response = await c.closed;
      clearInterval(trickle);
      expect(response).toMatch(/^HTTP\/1\.1 408 /);
      expect(errorCode(response)).toBe('REQUEST_TIMEOUT');
    } finally {
      await http.close();
    }
  });

  it('a malformed request is a 400 in the API format, not a bare status line', async () => {
    const http = await start(fx.node);
    try {
      const c = await rawConnection(http.port);
      c.socket.write('NOT HTTP AT ALL\r\n\r\n');
      const response = await c.closed;
      expect(response).toMatch(/^HTTP\/1\.1 400 /);
      expect(errorCode(response)).toBe('BAD_REQUEST');
    } finally {
      await http.close();
    }
  });
});

describe('connections per address', () => {
  const get = async (
    c: { socket: Socket; received: () => string },
    path = '/healthz',
  ): Promise<string> => {
    const before = c.received().length;
    c.socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await until(
      'the answer or a closed socket',
      () => /\r\n\r\n[\s\S]*\}/.test(c.received().slice(before)) || c.socket.destroyed,
    );
    return c.received().slice(before);
  };

  it('one more than the cap is answered 429 RATE_LIMITED without reaching the app, and closed; a freed slot is usable again', async () => {
    const http = await start(fx.node, { maxConnectionsPerAddress: 2 });
    try {
      const first = await rawConnection(http.port);
      const second = await rawConnection(http.port);
      expect(await get(first)).toMatch(/^HTTP\/1\.1 200 /);
      expect(await get(second)).toMatch(/^HTTP\/1\.1 200 /);
      const third = await rawConnection(http.port);
      const before = (await fx.node.log.head()).size;
      third.socket.write(
        'POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
      );
      const refused = await third.closed;
      expect(refused).toMatch(/^HTTP\/1\.1 429 /);
      expect(refused).toMatch(/retry-after: 5/i);
      expect(errorCode(refused)).toBe('RATE_LIMITED');
      expect((await fx.node.log.head()).size).toBe(before);
      // The held connections still work; closing one frees a slot.
      expect(await get(first)).toMatch(/^HTTP\/1\.1 200 /);
      first.socket.end();
      await first.closed;
      // The server sees the close a moment after the client: retry until it has.
      const fourth = await until('a freed slot', async () => {
        const c = await rawConnection(http.port);
        if ((await get(c)).startsWith('HTTP/1.1 200')) return c;
        await c.closed;
        return undefined;
      });
      expect(await get(fourth)).toMatch(/^HTTP\/1\.1 200 /);
      second.socket.destroy();
      fourth.socket.destroy();
    } finally {
      await http.close();
    }
  });

  it('trusted proxies are not capped: every client behind a balancer arrives from its address', async () => {
    const http = await start(fx.node, {
      maxConnectionsPerAddress: 1,
      trustProxy: trust('127.0.0.1'),
    });
    try {
      const connections = await Promise.all([
        rawConnection(http.port),
        rawConnection(http.port),
        rawConnection(http.port),
      ]);
      for (const c of connections) expect(await get(c)).toMatch(/^HTTP\/1\.1 200 /);
      for (const c of connections) c.socket.destroy();
    } finally {
      await http.close();
    }
  });
});

describe('--trust-proxy: rate limits per client behind a proxy', () => {
  const report = (port: number, forwardedFor: string) =>
    fetch(
      `http://127.0.0.1:${port}/api/v1/reports`,
      installReport({ 'x-forwarded-for': forwardedFor }),
    );

  for (const [setting, separate] of [
    ['127.0.0.1', true],
    ['127.0.0.0/8,::1', true],
    ['1', true],
    ['none', false],
    ['10.0.0.0/8', false],
  ] as const) {
    it(`${setting}: clients named in X-Forwarded-For ${separate ? 'have their own quotas' : 'share the peer quota (the header is not believed)'}`, async () => {
      const node = await fx.openNode({
        trustProxy: setting,
        agentPerAddressPerSecond: 0.001,
        agentPerAddressBurst: 1,
      });
      const http = await start(node);
      try {
        expect((await report(http.port, '198.51.100.1')).status).toBe(201);
        const other = await report(http.port, '198.51.100.2');
        expect(other.status).toBe(separate ? 201 : 429);
        const again = await report(http.port, '198.51.100.1');
        expect(again.status).toBe(429);
        expect(((await again.json()) as { error: { code: string } }).error.code).toBe(
          'RATE_LIMITED',
        );
      } finally {
        await http.close();
      }
    });
  }
});

describe('fairpatch serve wires these settings', () => {
  it('refuses malformed settings as usage errors (64)', async () => {
    for (const args of [
      ['--trust-proxy', '10.0.0.0/40'],
      ['--trust-proxy', 'proxy.example'],
      ['--headers-timeout', '2m'],
      ['--request-timeout', 'soon'],
      ['--max-connections-per-address', '0'],
    ]) {
      const result = await cli(['serve', ...args]);
      expect(result.code, args.join(' ')).toBe(64);
      expect(result.stderr).toMatch(new RegExp(args[0]!));
    }
  });

  it('a real `fairpatch serve` applies its request timeout and serves /metrics and /openapi.json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fairpatch-serve-'));
    const keys = join(dir, 'keys');
    expect((await cli(['keygen', '--keys', keys])).code).toBe(0);
    const server = await startServer([
      '--data',
      join(dir, 'data'),
      '--keys',
      keys,
      '--trust-proxy',
      '127.0.0.1',
      '--headers-timeout',
      '500ms',
      '--request-timeout',
      '1s',
    ]);
    try {
      const port = Number(new URL(server.url).port);
      const c = await rawConnection(port);
      c.socket.write(
        'POST /api/v1/receipts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{',
      );
      const trickle = setInterval(() => c.socket.writable && c.socket.write(' '), 100);
      const response = await c.closed;
      clearInterval(trickle);
      expect(response).toMatch(/^HTTP\/1\.1 408 /);
      expect((await fetch(`${server.url}/metrics`)).headers.get('content-type')).toMatch(
        /^text\/plain; version=0\.0\.4/,
      );
      expect(
        ((await (await fetch(`${server.url}/openapi.json`)).json()) as { openapi: string }).openapi,
      ).toBe('3.1.0');
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
