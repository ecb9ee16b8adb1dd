import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateRepositoryKeys } from '../../src/keys/keygen.js';
import { startServer } from '../helpers/cli.js';
import { until } from '../helpers/until.js';

type Node = Awaited<ReturnType<typeof startServer>>;
interface Rollup {
  type: 'delivery.rollup';
  node: string;
  from_tick: number;
  to_tick: number;
  groups: Record<string, { polls: number }>;
}

const GROUPS = ['eu', 'us', 'ap'];

/** Polls from every group until the node stops answering; counts the 200s per group. */
async function trafficUntilGone(node: Node, enough: () => void): Promise<Map<string, number>> {
  const answered = new Map<string, number>();
  let total = 0;
  await Promise.all(
    GROUPS.map(async (group) => {
      for (;;) {
        try {
          const response = await fetch(`${node.url}/g/${group}/metadata/timestamp.json`);
          await response.arrayBuffer();
          if (response.status !== 200) return;
        } catch {
          return; // closed: no more answers
        }
        answered.set(group, (answered.get(group) ?? 0) + 1);
        if (++total === 150) enough();
      }
    }),
  );
  return answered;
}

async function exited(node: Node): Promise<number | null> {
  if (node.process.exitCode !== null) return node.process.exitCode;
  return new Promise((resolve) => node.process.once('exit', (code) => resolve(code)));
}

async function rollups(url: string): Promise<Rollup[]> {
  const note = await (await fetch(`${url}/log/checkpoint`)).text();
  const treeSize = Number(note.split('\n')[1]); // a C2SP checkpoint: origin, then tree size
  const { entries } = (await (
    await fetch(`${url}/log/entries?start=0&end=${treeSize}`)
  ).json()) as { entries: Array<{ data: string }> };
  return entries
    .map((e) => JSON.parse(e.data) as { type: string })
    .filter((l): l is Rollup => l.type === 'delivery.rollup');
}

const sum = (list: Rollup[]) => {
  const out = new Map<string, number>();
  for (const r of list)
    for (const [g, { polls }] of Object.entries(r.groups)) out.set(g, (out.get(g) ?? 0) + polls);
  return out;
};

describe('SIGTERM during traffic', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fairpatch-shutdown-'));
  generateRepositoryKeys({ dir: join(dir, 'keys'), now: Date.now() });
  const start = (name: string) =>
    startServer(['--data', join(dir, 'data'), '--keys', join(dir, 'keys'), '--node-name', name]);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Starts a node, sends it traffic, SIGTERMs it mid-traffic; returns what it answered and its first tick. */
  async function servedThenTerminated(
    name: string,
  ): Promise<{ answered: Map<string, number>; firstTick: number }> {
    const node = await start(name);
    const { tick: firstTick } = (await (await fetch(`${node.url}/healthz`)).json()) as {
      tick: number;
    };
    const answered = await trafficUntilGone(node, () => node.process.kill('SIGTERM'));
    expect(await exited(node), node.output()).toBe(0);
    return { answered, firstTick };
  }

  it('the last roll-up is in the log, counting every poll answered; a restarted node rolls up from its own first tick', async () => {
    const a = await servedThenTerminated('node-a');
    const b = await servedThenTerminated('node-b');

    const reader = await start('reader');
    try {
      const all = await until('the log to be readable', () => rollups(reader.url));
      const ofA = all.filter((r) => r.node === 'node-a');
      const ofB = all.filter((r) => r.node === 'node-b');
      expect(sum(ofA)).toEqual(a.answered);
      expect(sum(ofB)).toEqual(b.answered);
      // A restarted node's window starts where it started, not at tick 1.
      const firstOfB = Math.min(...ofB.map((r) => r.from_tick));
      expect(firstOfB).toBeGreaterThanOrEqual(Math.max(...ofA.map((r) => r.to_tick)));
      expect(firstOfB).toBeLessThanOrEqual(b.firstTick);
    } finally {
      await reader.stop();
    }
  }, 90_000);
});
