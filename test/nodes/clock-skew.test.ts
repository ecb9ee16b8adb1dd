import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRepositoryKeys } from '../../src/keys/keygen.js';
import { startServer } from '../helpers/cli.js';
import { freshDatabase } from '../helpers/dialects.js';
import { registerVendor, stageRelease, uploadArtifact } from '../helpers/nodes.js';
import { until } from '../helpers/until.js';

const OPERATOR = 'clock-skew-operator-token-0123456789';
type Node = Awaited<ReturnType<typeof startServer>>;
interface Health {
  ok: boolean;
  problems: string[];
  clock: { offset_ms: number; rtt_ms: number; max_skew_ms: number } | null;
}
const health = async (node: Node) => (await (await fetch(`${node.url}/healthz`)).json()) as Health;
const snapshotOf = (body: unknown) =>
  (body as { signed: { meta: { 'snapshot.json': { version: number } } } }).signed.meta[
    'snapshot.json'
  ].version;

// The database runs on this machine, so its clock is the test's: a node under faketime is off by what faketime adds.
describe('nodes keep time with the database (PostgreSQL)', () => {
  let dir: string;
  let exact: Node;
  let far: Node;
  let near: Node;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fairpatch-clock-'));
    generateRepositoryKeys({ dir: join(dir, 'keys'), now: Date.now() });
    const env = {
      DATABASE_URL: (await freshDatabase('postgres'))!,
      FAIRPATCH_OPERATOR_TOKEN: OPERATOR,
    };
    const args = (name: string) => [
      '--data',
      join(dir, `data-${name}`),
      '--keys',
      join(dir, 'keys'),
      '--min-lead',
      '3s',
      '--node-name',
      name,
    ];
    exact = await startServer(args('exact'), { env });
    [far, near] = await Promise.all([
      startServer(args('far'), { env, wrapper: ['faketime', '-f', '+3s'] }),
      // Within a tolerance set wide on purpose: it serves, and still shows nothing early.
      startServer([...args('near'), '--max-clock-skew', '2s'], {
        env,
        wrapper: ['faketime', '-f', '+1s'],
      }),
    ]);
  }, 60_000);
  afterAll(async () => {
    for (const n of [exact, far, near]) await n?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a node 3 s ahead reports its offset, fails healthz and answers 503 CLOCK_SKEW for what depends on the tick', async () => {
    const h = await health(far);
    expect(h.clock!.offset_ms).toBeLessThan(-2500);
    expect(h.clock!.max_skew_ms).toBe(100);
    expect(h.ok).toBe(false);
    expect(h.problems.join()).toMatch(/clock is \d+ ms off/);
    for (const path of [
      '/metadata/timestamp.json',
      '/g/eu/metadata/1.root.json',
      `/targets/acme/${'ab'.repeat(32)}.fix.sh`,
    ]) {
      const response = await fetch(`${far.url}${path}`);
      expect(response.status, path).toBe(503);
      expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
        'CLOCK_SKEW',
      );
    }
    const ok = await health(exact);
    expect(Math.abs(ok.clock!.offset_ms)).toBeLessThan(100);
    expect(ok.ok).toBe(true);
  });

  it('a node 1 s ahead, within its tolerance, shows nothing of a release before release_at', async () => {
    expect((await health(near)).clock!.offset_ms).toBeLessThan(-500);
    const acme = await registerVendor(exact.url, OPERATOR, join(dir, 'keys'), 'acme');
    const artifact = await uploadArtifact(exact.url, acme, {
      file: join(dir, 'fix.sh'),
      content: 'echo fixed\n',
      name: 'fix.sh',
    });
    // The delegation to acme bumps the snapshot at its own tick: the release is what comes after.
    await until('the delegation to take effect', async () =>
      ((await (await fetch(`${exact.url}/healthz`)).json()) as { tick: number }).tick >
      acme.activationTick
        ? true
        : undefined,
    );
    const before = snapshotOf(await (await fetch(`${exact.url}/metadata/timestamp.json`)).json());
    const releaseAt = Math.ceil((Date.now() + 4000) / 1000) * 1000;
    await stageRelease(exact.url, acme, [artifact], { version: '2.4.1', releaseAt });
    // Poll the node that runs ahead from 1.5 s before release_at until it shows the release.
    const early: number[] = [];
    let shown = false;
    while (!shown && Date.now() < releaseAt + 15_000) {
      const response = await fetch(`${near.url}/metadata/timestamp.json`);
      const body = await response.json();
      const receivedAt = Date.now();
      expect(response.status).toBe(200);
      if (snapshotOf(body) > before) {
        shown = true;
        if (receivedAt < releaseAt) early.push(releaseAt - receivedAt);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(shown).toBe(true);
    expect(early).toEqual([]);
  }, 30_000);
});
