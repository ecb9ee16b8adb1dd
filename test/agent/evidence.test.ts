import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { subscribe } from '../../src/agent/events.js';
import { verifyObservation } from '../../src/common/observation.js';
import { type Fixture, MINUTE, SECOND, createFixture, listen } from '../helpers/repo.js';
import { until } from '../helpers/until.js';

let fx: Fixture;
let closers: Array<() => Promise<void>>;
beforeEach(async () => {
  fx = await createFixture();
  await fx.addVendor('acme');
  closers = [];
});
afterEach(async () => {
  for (const c of closers.reverse()) await c();
  await fx.close();
});

function agentOn(
  url: string,
  lines: string[],
  stateDir = mkdtempSync(join(tmpdir(), 'fp-evidence-')),
): Agent {
  return new Agent(
    {
      server: url,
      group: 'eu-west',
      root: join(fx.keysDir, '1.root.json'),
      stateDir,
      vendor: 'acme',
      product: 'acme-agent',
      platform: 'linux-x64',
      currentVersion: '2.3.0',
      channel: 'stable',
      intervalMs: MINUTE,
      push: false,
    },
    {
      clock: fx.clock,
      log: (l) => lines.push(l),
      fetcher: { attempts: 1, backoffMs: 1, timeoutMs: 5000 },
    },
  );
}

/** Stages acme's 2.4.1 to be released a minute from now; returns its release_at. */
async function stageFixInAMinute(): Promise<number> {
  const releaseAt = fx.clock.now() + MINUTE;
  await fx.stage('acme', {}, [await fx.artifact('acme-agent-2.4.1.sh', 'echo fix\n')], releaseAt);
  return releaseAt;
}

/**
 * An edge in front of the node, over HTTP until the test ends: the routes `misbehave` adds, every
 * other request passed on to the node. Returns its URL.
 */
async function serveEdge(misbehave: (edge: Hono) => void): Promise<string> {
  const edge = new Hono();
  misbehave(edge);
  edge.all('*', (c) => fx.node.app.fetch(c.req.raw));
  const http = await listen(edge);
  closers.push(() => http.close());
  return http.url;
}

describe("the agent's own evidence", () => {
  it('signs what it was served; a frozen group path is said in one line, retried on the plain path, and kept as testimony', async () => {
    const releaseAt = await stageFixInAMinute();
    const frozenAt = fx.node.repo.currentTick();
    // An edge that keeps serving the group path the statement of one tick, still valid for minutes.
    const edge = await serveEdge((edge) =>
      edge.get('/g/:group/metadata/timestamp.json', (c) =>
        c.body(new Uint8Array(fx.node.repo.view.timestampAt(frozenAt)), 200, {
          'content-type': 'application/json',
        }),
      ),
    );

    const lines: string[] = [];
    const agent = agentOn(edge, lines);
    expect(await agent.cycle()).toMatchObject({ outcome: 'up-to-date' });
    fx.clock.set(releaseAt + 20 * SECOND);
    expect(await agent.cycle(), lines.join('\n')).toMatchObject({
      outcome: 'installed',
      version: '2.4.1',
    });
    const stale = lines.filter((l) => l.startsWith('SERVED STALE'));
    expect(stale).toHaveLength(1);
    expect(stale[0]).toMatch(
      /\/g\/eu-west served tick \d+, \d+s behind .*freeze attack.*trying the next path/,
    );

    const receipts = agent.receipts.all();
    expect(
      receipts.every(
        (r) =>
          verifyObservation(r.signed) &&
          r.signed.observation.agent === agent.identity.publicKey &&
          r.signed.observation.group === 'eu-west',
      ),
    ).toBe(true);
    // The group path's run: one statement from the first poll to the last, the gap the auditor reads.
    const frozen = receipts.find(
      (r) =>
        r.signed.observation.via === '/g/eu-west' &&
        Date.parse(r.signed.observation.last_at) - Date.parse(r.signed.observation.first_at) >=
          MINUTE,
    );
    const fresh = receipts.find(
      (r) => r.signed.observation.via === '/' && r.signed.observation.lag_ms < SECOND,
    );
    expect(frozen, JSON.stringify(receipts.map((r) => r.signed.observation))).toBeDefined();
    expect(fresh).toBeDefined();
    // The frozen run grew: two polls of the same statement, one signed account.
    expect(frozen!.signed.observation.polls).toBe(2);

    // Handed to the server (through the edge, which passes them on) and logged.
    await fx.node.sequencer.idle();
    const rows = await fx.node.db.selectFrom('log_leaves').select('data').execute();
    expect(rows.some((r) => r.data.includes(frozen!.signed.sig))).toBe(true);
  });

  it('gets around a group path that does not answer, and signs that it failed', async () => {
    const releaseAt = await stageFixInAMinute();
    const edge = await serveEdge((edge) =>
      edge.all('/g/:group/*', (c) =>
        c.json({ error: { code: 'NOT_READY', message: 'down' } }, 503),
      ),
    );
    const agent = agentOn(edge, []);
    fx.clock.set(releaseAt);
    expect(await agent.cycle()).toMatchObject({ outcome: 'installed', version: '2.4.1' });
    const observation = agent.receipts.all().at(-1)!.signed.observation;
    expect(observation.via).toBe('/');
    expect(observation.path_failures).toEqual([
      expect.objectContaining({
        via: '/g/eu-west',
        error: expect.stringMatching(/^server unavailable/),
      }),
    ]);
  });

  it('keeps one key for good, mode 0600, and names itself by it', () => {
    const state = mkdtempSync(join(tmpdir(), 'fp-id-'));
    const first = agentOn('http://127.0.0.1:1', [], state).identity.publicKey;
    expect(agentOn('http://127.0.0.1:1', [], state).identity.publicKey).toBe(first);
    expect(statSync(join(state, 'agent.key')).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(state, 'agent.key'), 'utf8')).public).toBe(first);
  });

  it('holds the event stream across heartbeats: never taken for dead while the server is alive', async () => {
    // The real rhythm (a heartbeat every 15 s, 45 s of silence is death) scaled down, with room for a busy machine.
    const http = await listen(fx.node.app);
    closers.push(() => http.close());
    const beat = setInterval(() => fx.node.notifier.heartbeat(fx.node.repo.currentTick()), 100);
    closers.push(async () => clearInterval(beat));
    const states: boolean[] = [];
    const heartbeats: string[] = [];
    const stop = new AbortController();
    const done = subscribe(`${http.url}/g/eu-west/events`, {
      signal: stop.signal,
      silenceMs: 1500,
      onEvent: (e) => e.event === 'heartbeat' && heartbeats.push(e.data),
      onState: (up) => states.push(up),
    });
    await until('20 heartbeats', () => heartbeats.length >= 20);
    stop.abort();
    await done;
    expect(heartbeats.length).toBeGreaterThanOrEqual(20);
    // One connection for the whole time: up once, down only when we stopped it.
    expect(states).toEqual([true, false]);
  });
});
