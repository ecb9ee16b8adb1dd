import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentFetcher, retryAfterMs } from '../../src/agent/fetcher.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

describe('the agent fetcher', () => {
  it('retries 503s, honouring Retry-After, then succeeds', async () => {
    let calls = 0;
    const url = await serve((_, res) => {
      calls++;
      if (calls < 3) {
        res.writeHead(503, { 'retry-after': '7' }).end();
        return;
      }
      res.end('ok');
    });
    const waits: number[] = [];
    const fetcher = new AgentFetcher({ attempts: 4, sleep: async (ms) => void waits.push(ms) });
    expect((await fetcher.downloadBytes(`${url}/metadata/timestamp.json`, 100)).toString()).toBe(
      'ok',
    );
    expect(waits).toEqual([7000, 7000]);
  });

  it('backs off with jitter when no Retry-After is given, and gives up after its attempts', async () => {
    const url = await serve((_, res) => void res.writeHead(502).end());
    const waits: number[] = [];
    const fetcher = new AgentFetcher({
      attempts: 3,
      backoffMs: 100,
      sleep: async (ms) => void waits.push(ms),
    });
    await expect(fetcher.downloadBytes(`${url}/x`, 10)).rejects.toThrow(/HTTP 502/);
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeLessThanOrEqual(100);
    expect(waits[1]).toBeLessThanOrEqual(200);
  });

  it('does not retry a 404', async () => {
    let calls = 0;
    const url = await serve((_, res) => {
      calls++;
      res.writeHead(404).end();
    });
    await expect(
      new AgentFetcher({ sleep: async () => {} }).downloadBytes(`${url}/x`, 10),
    ).rejects.toThrow(/HTTP 404/);
    expect(calls).toBe(1);
  });

  it('resumes an interrupted artifact download with a Range request', async () => {
    const body = Buffer.from('0123456789'.repeat(1000));
    const ranges: Array<string | undefined> = [];
    const url = await serve((req, res) => {
      ranges.push(req.headers.range);
      const start = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
      if (start === 0) {
        // The first attempt dies half-way.
        res.writeHead(200, { 'content-length': body.length });
        res.write(body.subarray(0, 4000), () => res.destroy());
        return;
      }
      res.writeHead(206, {
        'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
        'content-length': body.length - start,
      });
      res.end(body.subarray(start));
    });
    const fetcher = new AgentFetcher({
      partialDir: mkdtempSync(join(tmpdir(), 'partial-')),
      sleep: async () => {},
    });
    const got = await fetcher.downloadFile(`${url}/targets/acme/x.bin`, body.length, async (file) =>
      readFileSync(file),
    );
    expect(got.equals(body)).toBe(true);
    expect(ranges[0]).toBeUndefined();
    expect(ranges.at(-1)).toMatch(/^bytes=\d+-$/);
    expect(Number(/bytes=(\d+)-/.exec(ranges.at(-1)!)?.[1])).toBeGreaterThan(0);
  });

  it('refuses endless data beyond the signed length', async () => {
    const url = await serve((_, res) => void res.end(Buffer.alloc(5000)));
    const fetcher = new AgentFetcher({
      partialDir: mkdtempSync(join(tmpdir(), 'partial-')),
      sleep: async () => {},
    });
    await expect(
      fetcher.downloadFile(`${url}/targets/acme/x.bin`, 100, async () => 'never'),
    ).rejects.toThrow(/endless data/);
  });

  it('reads Retry-After as seconds or a date, bounded to a minute', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs('9999')).toBe(60_000);
    expect(
      retryAfterMs(new Date(Date.UTC(2030, 0, 1, 0, 0, 10)).toUTCString(), Date.UTC(2030, 0, 1)),
    ).toBe(10_000);
    expect(retryAfterMs('soon')).toBeUndefined();
  });
});
