import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRepositoryKeys } from '../../src/keys/keygen.js';
import { cli, startServer } from '../helpers/cli.js';
import { freshDatabase } from '../helpers/dialects.js';
import { until } from '../helpers/until.js';

const OPERATOR = 'root-switch-operator-token-01234567';
type Node = Awaited<ReturnType<typeof startServer>>;
interface Poll {
  node: number;
  status: number;
  tick?: number;
  digest?: string;
  keyid?: string;
  code?: string;
}

describe('a new root takes effect at one tick on every node (PostgreSQL)', () => {
  let dir: string;
  let nodes: Node[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fairpatch-root-'));
    generateRepositoryKeys({ dir: join(dir, 'keys'), now: Date.now() });
    // Node three gets a copy of today's keys: it will lack the key the next root names.
    cpSync(join(dir, 'keys'), join(dir, 'keys-three'), { recursive: true });
    const env = {
      DATABASE_URL: (await freshDatabase('postgres'))!,
      FAIRPATCH_OPERATOR_TOKEN: OPERATOR,
    };
    nodes = await Promise.all(
      ['one', 'two', 'three'].map((name) =>
        startServer(
          [
            '--data',
            join(dir, `data-${name}`),
            '--keys',
            join(dir, name === 'three' ? 'keys-three' : 'keys'),
            '--min-lead',
            '3s',
            '--node-name',
            name,
          ],
          { env },
        ),
      ),
    );
  }, 60_000);
  afterAll(async () => {
    for (const n of nodes) await n.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('switches timestamp keys at its tick, one document per tick; a node without the new key says so and answers 503', async () => {
    const polls: Poll[] = [];
    let running = true;
    const loops = nodes.map(async (node, i) => {
      while (running) {
        const response = await fetch(`${node.url}/metadata/timestamp.json`);
        const bytes = Buffer.from(await response.arrayBuffer());
        const body = JSON.parse(bytes.toString()) as {
          signed?: { version: number };
          signatures?: Array<{ keyid: string }>;
          error?: { code: string };
        };
        polls.push(
          body.signed
            ? {
                node: i,
                status: response.status,
                tick: body.signed.version,
                digest: createHash('sha256').update(bytes).digest('hex'),
                keyid: body.signatures![0]!.keyid,
              }
            : {
                node: i,
                status: response.status,
                ...(body.error ? { code: body.error.code } : {}),
              },
        );
        await new Promise((r) => setTimeout(r, 20));
      }
    });

    const rotated = await cli([
      'root',
      'rotate',
      '--keys',
      join(dir, 'keys'),
      '--rotate',
      'timestamp',
      '--server',
      nodes[0]!.url,
      '--token',
      OPERATOR,
    ]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const activatesAt = Date.parse(JSON.parse(rotated.stdout).activatesAt);
    const root2 = JSON.parse(readFileSync(join(dir, 'keys', '2.root.json'), 'utf8')) as {
      signed: { roles: { timestamp: { keyids: string[] } } };
    };
    const newKey = root2.signed.roles.timestamp.keyids[0]!;
    expect(activatesAt - Date.now()).toBeGreaterThan(1000); // at least the lead time ahead, less what the CLI took
    expect((await fetch(`${nodes[1]!.url}/metadata/2.root.json`)).status).toBe(404); // not before its tick

    // Node three learns of root 2 at its next refresh and reports the missing key before the tick.
    const three = nodes[2]!;
    const health = await until('node three to report the missing key', async () => {
      const h = (await (await fetch(`${three.url}/healthz`)).json()) as {
        ok: boolean;
        problems: string[];
      };
      return h.ok ? undefined : h;
    });
    expect(health.problems.join()).toMatch(/lacks the online keys of root 2/);
    expect(three.output().match(/lacks the online keys of root 2/g)).toHaveLength(1);

    await until(
      'two ticks past the switch',
      () =>
        polls.some((p) => p.keyid === newKey) && Date.now() > activatesAt + 2000 ? true : undefined,
      { timeoutMs: 30_000 },
    );
    running = false;
    await Promise.all(loops);

    const served = polls.filter((p) => p.status === 200);
    const switchTick = Math.min(...served.filter((p) => p.keyid === newKey).map((p) => p.tick!));
    // One document per tick, across every node that served it; the old key before the switch, the new one from it.
    const byTick = new Map<number, Set<string>>();
    for (const p of served) byTick.set(p.tick!, (byTick.get(p.tick!) ?? new Set()).add(p.digest!));
    for (const [tick, digests] of byTick) expect(digests.size, `tick ${tick}`).toBe(1);
    for (const p of served)
      expect(p.keyid === newKey, `node ${p.node} tick ${p.tick}`).toBe(p.tick! >= switchTick);
    expect(
      served.some((p) => p.node === 0 && p.tick! >= switchTick) &&
        served.some((p) => p.node === 1 && p.tick! >= switchTick),
    ).toBe(true);
    // Node three never signs with the old key past the switch: it refuses.
    expect(served.filter((p) => p.node === 2 && p.tick! >= switchTick)).toEqual([]);
    const refused = polls.filter((p) => p.node === 2 && p.status !== 200);
    expect(refused.length).toBeGreaterThan(0);
    for (const p of refused) expect(p).toMatchObject({ status: 503, code: 'KEY_UNAVAILABLE' });
    expect((await fetch(`${nodes[1]!.url}/metadata/2.root.json`)).status).toBe(200);
  }, 60_000);
});
