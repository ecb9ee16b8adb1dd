import { connect } from 'node:net';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/common/clock.js';
import { httpRootSource } from '../../src/witness/roots.js';
import { listen } from '../helpers/repo.js';
import { readRoot, startWitness } from '../helpers/witness.js';
import { createFixture } from '../helpers/repo.js';
import { until } from '../helpers/until.js';

// What reaches a witness from the network is read no further than it can use: a checkpoint request
// sent chunked (no length declared), and a root answered by a hostile or broken repository node.
let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** A body of `size` bytes in 16 KiB chunks, with no length declared. */
function chunked(size: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= size) return controller.close();
      const n = Math.min(16 * 1024, size - sent);
      sent += n;
      controller.enqueue(new Uint8Array(n).fill(0x61));
    },
  });
}

describe('a witness reads bounded', () => {
  it('answers a chunked POST /add-checkpoint 413 once it passes the limit, before the body ends', async () => {
    const fx = await createFixture();
    cleanup.push(() => fx.close());
    const w = await startWitness(fx.keysDir, systemClock, { maxAddCheckpointBytes: 64 * 1024 });
    cleanup.push(() => w.close());
    // A client that keeps sending and never ends its body: only a bounded reader answers it.
    const { port } = new URL(w.url);
    const socket = connect(Number(port), '127.0.0.1');
    cleanup.push(async () => void socket.destroy());
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('error', () => {});
    socket.write(
      'POST /add-checkpoint HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    const chunk = `4000\r\n${'a'.repeat(0x4000)}\r\n`;
    for (let sent = 0; sent < 4 * 1024 * 1024 && !answer; sent += 0x4000) {
      if (socket.destroyed) break;
      socket.write(chunk);
      await new Promise((r) => setTimeout(r, 1));
    }
    await until('an answer', () => (answer.includes('\r\n\r\n') ? true : undefined), {
      timeoutMs: 5_000,
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain('PAYLOAD_TOO_LARGE');
    // And the witness goes on answering.
    expect((await fetch(`${w.url}/healthz`)).status).toBe(200);
  });

  it('refuses a root answer larger than a root can be, and reads a real one', async () => {
    const fx = await createFixture();
    cleanup.push(() => fx.close());
    const root = JSON.stringify(readRoot(fx.keysDir));
    const node = new Hono();
    node.get('/metadata/1.root.json', (c) =>
      c.body(root, 200, { 'content-type': 'application/json' }),
    );
    node.get('/metadata/2.root.json', () => new Response(chunked(8 * 1024 * 1024)));
    const http = await listen(node);
    cleanup.push(() => http.close());
    const source = httpRootSource(http.url, 5_000);
    expect(await source(1)).toEqual(JSON.parse(root));
    await expect(source(2)).rejects.toThrow(/larger than 1048576 bytes/);
  });
});
