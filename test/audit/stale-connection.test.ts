import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, it } from 'vitest';
import { reach } from '../../src/net/unreachable.js';

/**
 * An auditor reads a million leaves, then hashes and parses them for longer than the server keeps an
 * idle connection (node:http: 5 s): the next request goes out on a pooled socket the
 * server already closed. That is no unreachable server; the request is sent again on a new one.
 */
it(
  'a GET after the event loop was busy past the keep-alive reaches the server',
  { timeout: 30_000 },
  async () => {
    const server = createServer((_, res) => res.end('x'.repeat(100_000)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      await Promise.all(Array.from({ length: 8 }, async () => (await reach(url)).text()));
      // Busy past the server's keep-alive, as hashing is: no timer of the connection pool runs.
      const until = Date.now() + 6000;
      while (Date.now() < until);
      expect((await (await reach(url, { timeoutMs: 10_000 })).text()).length).toBe(100_000);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  },
);
