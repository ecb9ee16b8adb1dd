import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRepositoryKeys } from '../../src/keys/keygen.js';
import { SERVING_FLAGS } from '../../src/serving/serving-flags.js';
import { startServer } from '../helpers/cli.js';
import { until } from '../helpers/until.js';

/** A GET on a fresh connection: the cluster hands each new connection to the next worker. */
function fresh(url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks)));
    }).on('error', reject);
  });
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('serve --workers: one node on every core', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fairpatch-workers-'));
    generateRepositoryKeys({ dir: join(dir, 'keys'), now: Date.now() });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const start = (name: string) =>
    startServer(['--workers', '2', '--data', join(dir, name), '--keys', join(dir, 'keys')]);

  it('serves from two processes on one port, the same bytes per tick, the log written once', async () => {
    const server = await start('data-a');
    const pids = new Set<number>();
    try {
      expect(server.output()).toContain('(2 workers)');
      await until('answers from two workers', async () => {
        pids.add(
          (JSON.parse((await fresh(`${server.url}/healthz`)).toString()) as { pid: number }).pid,
        );
        return pids.size === 2;
      });
      expect(pids.has(server.process.pid!)).toBe(false);
      // Each worker runs with the serving flags (no V8 memory reducer pausing it at a tick).
      for (const pid of pids)
        expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toEqual(
          expect.arrayContaining([...SERVING_FLAGS]),
        );

      const byTick = new Map<number, Set<string>>();
      for (let i = 0; i < 40; i++) {
        const bytes = await fresh(`${server.url}/g/eu/metadata/timestamp.json`);
        const k = (JSON.parse(bytes.toString()) as { signed: { version: number } }).signed.version;
        const digests = byTick.get(k) ?? new Set<string>();
        digests.add(createHash('sha256').update(bytes).digest('hex'));
        byTick.set(k, digests);
      }
      for (const [k, digests] of byTick) expect(digests.size, `tick ${k}`).toBe(1);

      // Every worker offered the repository's first leaves (its creation, its first top-level
      // targets): each is in the log once.
      const checkpoint = (await fresh(`${server.url}/log/checkpoint`)).toString();
      const size = Number(checkpoint.split('\n')[1]);
      const { entries } = JSON.parse(
        (await fresh(`${server.url}/log/entries?start=0&end=${size}`)).toString(),
      ) as { entries: Array<{ data: string }> };
      expect(entries.filter((e) => e.data.includes('"repository.created"'))).toHaveLength(1);
      expect(new Set(entries.map((e) => e.data)).size).toBe(entries.length);
    } finally {
      await server.stop();
    }
    // SIGTERM to the primary stops its workers.
    await until('the workers to stop', () => [...pids].every((pid) => !alive(pid)));
  }, 60_000);

  it('workers stop when their primary is killed', async () => {
    const server = await start('data-b');
    const pids = new Set<number>();
    await until('answers from two workers', async () => {
      pids.add(
        (JSON.parse((await fresh(`${server.url}/healthz`)).toString()) as { pid: number }).pid,
      );
      return pids.size === 2;
    });
    server.process.kill('SIGKILL');
    await until('orphaned workers to stop', () => [...pids].every((pid) => !alive(pid)));
    expect([...pids].filter(alive)).toEqual([]);
  }, 60_000);
});
