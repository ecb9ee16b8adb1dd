import { setMaxListeners } from 'node:events';
import { connect } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { parseSse } from '../../src/agent/events.js';
import { parseLeaf } from '../../src/log/leaves.js';
import { tickAt } from '../../src/common/tick.js';
import { type Fixture, MINUTE, createFixture, listen } from '../helpers/repo.js';
import { until } from '../helpers/until.js';

const GROUPS = ['eu-west', 'us-east', 'ap-south'];

let fx: Fixture;
let server: { url: string; close(): Promise<void> };
let stop: AbortController;

beforeEach(async () => {
  fx = await createFixture();
  await fx.addVendor('acme');
  // A node with short reconnect hints and a small per-stream queue, on real HTTP.
  const node = await fx.openNode({
    maxStreamQueuedBytes: 512 * 1024,
    streamRetryMs: 100,
  });
  fx.node = node;
  server = await listen(node.app);
  stop = new AbortController();
  setMaxListeners(100, stop.signal); // a dozen agents share this one signal, by design
});
afterEach(async () => {
  stop.abort();
  await server.close();
  await fx.close();
});

function fleet(perGroup: number): Agent[] {
  return GROUPS.flatMap((group) =>
    Array.from(
      { length: perGroup },
      () =>
        new Agent(
          {
            server: server.url,
            group,
            root: join(fx.keysDir, '1.root.json'),
            stateDir: mkdtempSync(join(tmpdir(), 'push-')),
            vendor: 'acme',
            product: 'acme-agent',
            platform: 'linux-x64',
            currentVersion: '2.3.0',
            channel: 'stable',
            intervalMs: 60 * MINUTE,
          },
          { clock: fx.clock, log: () => {}, fetcher: { attempts: 2, backoffMs: 1 } },
        ),
    ),
  );
}

async function release(version: string, at: number): Promise<void> {
  const artifact = await fx.artifact(`acme-agent-${version}.sh`, `echo ${version}\n`);
  await fx.node.repo.stageVendorMetadata(
    'acme',
    await fx.release('acme', { version, applies_to: `<${version}` }, [artifact], at),
  );
}

describe('push at the release tick', () => {
  it('every connected agent in every group refreshes and installs after the tick, none before, from one fan-out', async () => {
    const releaseAt = fx.clock.now() + MINUTE;
    await release('2.4.1', releaseAt);
    const agents = fleet(4);
    for (const a of agents) void a.run(stop.signal);
    await until(
      'every agent holding its stream',
      () => fx.node.notifier.size === agents.length && agents.every((a) => a.streamUp),
    );
    await until('the first polls', () => agents.every((a) => a.receipts.all().length > 0));

    fx.clock.set(releaseAt - 1);
    expect(await fx.node.announce(tickAt(fx.node.repo.config, releaseAt - 1))).toBeUndefined(); // nothing activates: no event
    expect(agents.some((a) => a.installed())).toBe(false);

    fx.clock.set(releaseAt);
    const k = tickAt(fx.node.repo.config, releaseAt);
    const fanout = (await fx.node.announce(k))!;
    expect(Object.fromEntries(fanout.groups)).toEqual({
      'eu-west': 4,
      'us-east': 4,
      'ap-south': 4,
    });
    await until('every agent installed', () =>
      agents.every((a) => a.installed()?.version === '2.4.1'),
    );
    for (const a of agents) expect(Date.parse(a.installed()!.installed_at)).toBe(releaseAt);

    // The roll-up logs, per group, the connections notified by that one fan-out and its duration.
    const index = await fx.node.evidence.rollup();
    const [entry] = await fx.node.log.entries(index!, index! + 1);
    const leaf = parseLeaf(Buffer.from(entry!.data));
    expect(leaf.type).toBe('delivery.rollup');
    if (leaf.type !== 'delivery.rollup') return;
    for (const g of GROUPS)
      expect(leaf.groups[g]?.notifications?.[String(k)]).toMatchObject({ connections: 4 });
  });

  it('a consumer that never reads does not delay the others and is dropped; reconnecting agents resume', async () => {
    const [agent] = fleet(1);
    void agent!.run(stop.signal);
    // The slow consumer: a raw socket that sends its request and never reads a byte.
    const { port } = new URL(server.url);
    const slow = connect(Number(port), '127.0.0.1');
    slow.write(`GET /g/slow-group/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    slow.pause();
    // A healthy reader counting what it gets.
    let received = 0;
    void fetch(`${server.url}/g/fast/events`, { signal: stop.signal })
      .then(async (r) => {
        for await (const e of parseSse(r.body as unknown as AsyncIterable<Uint8Array>))
          if (e.event === 'bulk') received++;
      })
      .catch(() => {});
    await until('three streams', () => fx.node.notifier.size === 3);

    const bulk = new TextEncoder().encode(`event: bulk\ndata: ${'x'.repeat(64 * 1024)}\n\n`);
    let slowest = 0;
    // Fan-outs a few milliseconds apart (in life they are a tick apart): a reader that reads keeps up.
    for (let i = 0; i < 200; i++) {
      slowest = Math.max(slowest, (await fx.node.notifier.broadcast(bulk)).durationMs);
      await new Promise((r) => setTimeout(r, 3));
    }
    await until('the healthy reader to get every message', () => received === 200);
    expect(fx.node.notifier.dropped).toBe(1);
    expect([...fx.node.notifier.connections().keys()].sort()).toEqual(['eu-west', 'fast']);
    expect(slowest).toBeLessThan(1000); // a fan-out is a pass over buffers, never a wait on a reader
    slow.destroy();

    // The node drops every stream; the agent reconnects and still gets the next release at its tick.
    fx.node.notifier.closeAll();
    await until('the agent to notice', () => !agent!.streamUp);
    await until(
      'the agent reconnected',
      () => fx.node.notifier.connections().get('eu-west') === 1 && agent!.streamUp,
      { timeoutMs: 15_000 },
    );
    const releaseAt = fx.clock.now() + MINUTE;
    await release('2.4.2', releaseAt);
    fx.clock.set(releaseAt);
    const pushed = await fx.node.announce();
    expect(pushed, 'an activation at this tick').toBeDefined();
    expect(Object.fromEntries(pushed!.groups)).toEqual({ 'eu-west': 1 });
    await until('the agent installed 2.4.2', () => agent!.installed()?.version === '2.4.2');
  });

  it('refuses streams beyond the per-address limit with 429 and Retry-After', async () => {
    const limited = await fx.openNode({ maxStreamsPerAddress: 2 });
    const http = await listen(limited.app);
    const mine = new AbortController();
    try {
      const open = [
        fetch(`${http.url}/g/a/events`, { signal: mine.signal }),
        fetch(`${http.url}/g/a/events`, { signal: mine.signal }),
      ];
      await Promise.all(open);
      const third = await fetch(`${http.url}/g/a/events`);
      expect(third.status).toBe(429);
      expect(third.headers.get('retry-after')).toBe('5');
      expect(((await third.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
    } finally {
      mine.abort();
      limited.notifier.closeAll();
      await http.close();
    }
  });
});
