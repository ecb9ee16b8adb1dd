import { SimAgent } from '../helpers/receipts.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tickAt } from '../../src/common/tick.js';
import { Registry } from '../../src/metrics/registry.js';
import type { FairpatchNode } from '../../src/server/node.js';
import {
  type Fixture,
  MINUTE,
  SECOND,
  createFixture,
  installReport,
  listen,
} from '../helpers/repo.js';
import { type ParsedFamily, parsePrometheus, sampleValue } from '../helpers/prometheus.js';
import { until } from '../helpers/until.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await createFixture();
  await fx.addVendor('acme');
});
afterAll(() => fx.close());

async function scrape(node: FairpatchNode = fx.node): Promise<Map<string, ParsedFamily>> {
  const response = await node.app.request('/metrics');
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parsePrometheus(await response.text());
}

describe('GET /metrics', () => {
  it('is valid Prometheus text exposition, with every family typed and described', async () => {
    const families = await scrape();
    const expected: Record<string, ParsedFamily['type']> = {
      fairpatch_polls_total: 'counter',
      fairpatch_tick_render_seconds: 'histogram',
      fairpatch_fanout_seconds: 'histogram',
      fairpatch_log_size: 'gauge',
      fairpatch_log_append_seconds: 'histogram',
      fairpatch_log_appended_entries_total: 'counter',
      fairpatch_receipt_batches_total: 'counter',
      fairpatch_receipts_accepted_total: 'counter',
      fairpatch_rate_limited_total: 'counter',
      fairpatch_rate_limit_buckets: 'gauge',
      fairpatch_event_streams: 'gauge',
      fairpatch_event_streams_dropped_total: 'counter',
      fairpatch_tick: 'gauge',
      fairpatch_state_age_seconds: 'gauge',
      process_resident_memory_bytes: 'gauge',
    };
    for (const [name, type] of Object.entries(expected)) {
      expect(families.get(name)?.type, name).toBe(type);
      expect(families.get(name)?.help, name).toBeTruthy();
    }
    expect(sampleValue(families, 'process_resident_memory_bytes')).toBeGreaterThan(1024 * 1024);
    expect(sampleValue(families, 'fairpatch_tick')).toBe(fx.node.repo.currentTick());
  });

  it('counts polls per group, and groups past the cap under _overflow', async () => {
    const node = await fx.openNode({ metricsMaxGroups: 3 });
    for (let i = 0; i < 3; i++)
      expect((await node.app.request('/g/eu-west/metadata/timestamp.json')).status).toBe(200);
    await node.app.request('/metadata/timestamp.json');
    for (let i = 0; i < 20; i++) await node.app.request(`/g/tenant-${i}/metadata/timestamp.json`);
    const families = await scrape(node);
    expect(sampleValue(families, 'fairpatch_polls_total', { group: 'eu-west' })).toBe(3);
    expect(sampleValue(families, 'fairpatch_polls_total', { group: '_' })).toBe(1);
    const series = families.get('fairpatch_polls_total')!.samples;
    expect(series.length).toBe(4);
    expect(series.reduce((a, s) => a + s.value, 0)).toBe(24);
    expect(sampleValue(families, 'fairpatch_polls_total', { group: '_overflow' })).toBe(19);
  });

  it('times tick rendering and the fan-out of an activation', async () => {
    const before = await scrape();
    const renders = sampleValue(before, 'fairpatch_tick_render_seconds_count')!;
    const releaseAt = fx.clock.now() + MINUTE;
    const artifact = await fx.artifact('acme-agent-2.4.1.sh', 'echo fix\n');
    await fx.node.repo.stageVendorMetadata(
      'acme',
      await fx.release('acme', {}, [artifact], releaseAt),
    );
    fx.clock.set(releaseAt);
    expect(await fx.node.announce(tickAt(fx.node.repo.config, releaseAt))).toBeDefined();
    await fx.node.app.request('/metadata/timestamp.json');
    const after = await scrape();
    expect(sampleValue(after, 'fairpatch_tick_render_seconds_count')).toBeGreaterThan(renders);
    expect(sampleValue(after, 'fairpatch_fanout_seconds_count')).toBe(1);
  });

  it('follows the log and receipt intake: size, append latency, accepted and refused batches', async () => {
    const before = await scrape();
    const agent = new SimAgent('eu-west', fx.clock);
    await agent.poll(fx.node.app);
    await agent.poll(fx.node.app);
    const submit = (body: unknown) =>
      fx.node.app.request('/api/v1/receipts', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await submit(agent.batch())).status).toBe(201);
    expect((await submit({ documents: {}, receipts: [] })).status).toBe(400);
    const after = await scrape();
    expect(sampleValue(after, 'fairpatch_log_size')).toBe((await fx.node.log.head()).size);
    expect(sampleValue(after, 'fairpatch_log_size')).toBeGreaterThan(
      sampleValue(before, 'fairpatch_log_size')!,
    );
    expect(sampleValue(after, 'fairpatch_log_append_seconds_count')).toBeGreaterThan(
      sampleValue(before, 'fairpatch_log_append_seconds_count')!,
    );
    expect(sampleValue(after, 'fairpatch_receipt_batches_total', { outcome: 'accepted' })).toBe(
      (sampleValue(before, 'fairpatch_receipt_batches_total', { outcome: 'accepted' }) ?? 0) + 1,
    );
    expect(sampleValue(after, 'fairpatch_receipt_batches_total', { outcome: 'refused' })).toBe(
      (sampleValue(before, 'fairpatch_receipt_batches_total', { outcome: 'refused' }) ?? 0) + 1,
    );
    expect(sampleValue(after, 'fairpatch_receipts_accepted_total')).toBe(
      sampleValue(before, 'fairpatch_receipts_accepted_total')! + 2,
    );
  });

  it('counts rate-limit refusals, and shows the bucket map staying bounded under unique 8 KB Authorization headers', async () => {
    const node = await fx.openNode({
      agentPerAddressPerSecond: 0.001,
      agentPerAddressBurst: 1,
      publisherPerAddressPerSecond: 1e9,
      publisherPerAddressBurst: 1e9,
      publisherPerTokenPerSecond: 1,
      publisherPerTokenBurst: 1,
      rateLimitMaxBuckets: 50,
    });
    const report = () => node.app.request('/api/v1/reports', installReport());
    expect((await report()).status).toBe(201);
    expect((await report()).status).toBe(429);
    for (let i = 0; i < 500; i++) {
      const response = await node.app.request('/api/v1/top-targets/latest', {
        headers: { authorization: `Bearer ${String(i).padStart(6, '0')}${'A'.repeat(8192)}` },
      });
      expect(response.status).toBe(401);
    }
    const families = await scrape(node);
    expect(
      sampleValue(families, 'fairpatch_rate_limited_total', { limit: 'agent_per_address' }),
    ).toBe(1);
    expect(
      sampleValue(families, 'fairpatch_rate_limited_total', { limit: 'publisher_per_token' }),
    ).toBe(0);
    expect(
      sampleValue(families, 'fairpatch_rate_limit_buckets', { limit: 'publisher_per_token' }),
    ).toBe(50);
    fx.clock.advance(10 * SECOND);
    await node.app.request('/api/v1/top-targets/latest', {
      headers: { authorization: 'Bearer x' },
    });
    // Every one of those buckets has refilled: the next request forgets them all.
    expect(
      sampleValue(await scrape(node), 'fairpatch_rate_limit_buckets', {
        limit: 'publisher_per_token',
      }),
    ).toBe(1);
  });

  it('counts open event streams and the ones refused for the per-address cap', async () => {
    const node = await fx.openNode({ maxStreamsPerAddress: 1 });
    const server = await listen(node.app);
    const stop = new AbortController();
    try {
      const first = await fetch(`${server.url}/g/eu-west/events`, { signal: stop.signal });
      expect(first.status).toBe(200);
      await until(
        'the stream to be registered',
        async () => sampleValue(await scrape(node), 'fairpatch_event_streams') === 1,
      );
      const second = await fetch(`${server.url}/g/eu-west/events`);
      expect(second.status).toBe(429);
      expect(
        sampleValue(await scrape(node), 'fairpatch_rate_limited_total', { limit: 'event_streams' }),
      ).toBe(1);
      stop.abort();
      await until(
        'the stream to be gone',
        async () => sampleValue(await scrape(node), 'fairpatch_event_streams') === 0,
      );
    } finally {
      stop.abort();
      await server.close();
    }
  });
});

describe('the exposition format, both ways', () => {
  it('escapes label values and help text so that a strict parser reads them back', async () => {
    const registry = new Registry();
    registry
      .counter('x_total', 'help with a \\ backslash\nand a line feed', 'label')
      .inc('a "quoted" \\ value\nacross lines');
    const families = parsePrometheus(await registry.render());
    expect(families.get('x_total')?.help).toBe('help with a \\ backslash\nand a line feed');
    expect(families.get('x_total')?.samples[0]?.labels).toEqual({
      label: 'a "quoted" \\ value\nacross lines',
    });
  });

  it('the parser used above is strict: it refuses what the format does not allow', () => {
    const bad = [
      'x 1', // no final line feed
      '# TYPE x counter\n# TYPE x counter\nx 1\n',
      '# TYPE x counter\nx -1\n',
      'x{a="\\q"} 1\n',
      'x{a="1",a="2"} 1\n',
      'x 1\ny 1\nx{b="2"} 1\n',
      'x one\n',
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
      '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 2\n',
    ];
    for (const text of bad) expect(() => parsePrometheus(text), text).toThrow(Error);
  });
});
