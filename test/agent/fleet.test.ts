import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { type Fixture, SECOND, createFixture, listen } from '../helpers/repo.js';

const AGENTS = 200;
const INTERVAL = 10 * SECOND;
const GROUPS = ['eu-west', 'us-east', 'ap-south', 'tier-gold'];

let fx: Fixture;
let server: { url: string; close(): Promise<void> };
afterAll(async () => {
  await server?.close();
  await fx?.close();
});
beforeAll(async () => {
  fx = await createFixture();
  await fx.addVendor('acme');
  server = await listen(fx.node.app);
});

describe(`${AGENTS} agents in ${GROUPS.length} groups around one release`, () => {
  it('all install within one poll interval of the release tick, none before it', async () => {
    const releaseAt = fx.clock.now() + 40 * SECOND;
    await fx.stage(
      'acme',
      {},
      [await fx.artifact('acme-agent-2.4.1.sh', 'echo fixed\n')],
      releaseAt,
    );
    const root = join(fx.keysDir, '1.root.json');
    const fleet = Array.from({ length: AGENTS }, (_, i) => ({
      phase: (i * 7) % (INTERVAL / SECOND), // seconds into each interval this agent polls at
      agent: new Agent(
        {
          server: server.url,
          group: GROUPS[i % GROUPS.length]!,
          root,
          stateDir: mkdtempSync(join(tmpdir(), 'fleet-')),
          vendor: 'acme',
          product: 'acme-agent',
          platform: 'linux-x64',
          currentVersion: '2.3.0',
          channel: 'stable',
          intervalMs: INTERVAL,
        },
        { clock: fx.clock, log: () => {}, fetcher: { attempts: 2, backoffMs: 1 } },
      ),
    }));

    const installedAt = new Map<number, number>();
    for (let t = releaseAt - INTERVAL; t <= releaseAt + INTERVAL + SECOND; t += SECOND) {
      fx.clock.set(t);
      const due = fleet
        .map((f, i) => ({ ...f, i }))
        .filter((f) => ((t - releaseAt) / SECOND - f.phase) % (INTERVAL / SECOND) === 0);
      const results = await Promise.all(due.map((f) => f.agent.cycle()));
      results.forEach((r, j) => {
        expect(r.outcome, JSON.stringify(r)).not.toBe('refused');
        if (r.outcome === 'installed') installedAt.set(due[j]!.i, t);
      });
    }

    expect(installedAt.size).toBe(AGENTS);
    const delays = [...installedAt.values()].map((t) => t - releaseAt);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThan(INTERVAL);
    for (const { agent } of fleet) expect(agent.installed()?.version).toBe('2.4.1');
    // Every group was served, and counted.
    expect([...fx.node.counter.peek().keys()].sort()).toEqual([...GROUPS].sort());
  }, 180_000);
});
