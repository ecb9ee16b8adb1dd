import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { generateRepositoryKeys } from '../../src/keys/keygen.js';
import { PublisherClient } from '../../src/publish/client.js';
import { isoSeconds } from '../../src/tuf/time.js';
import { cli } from '../helpers/cli.js';
import { DIALECTS, freshDatabase } from '../helpers/dialects.js';
import { DrillNode, report, servedTick } from '../helpers/drill.js';
import { registerVendor, stageRelease, uploadArtifact } from '../helpers/nodes.js';
import { tufClient } from '../helpers/tuf-client.js';
import { until } from '../helpers/until.js';

const OPERATOR = 'drill-operator-token-embargo-0123456789';
const ID = 'CVE-2026-2424';
const fixOf = (vendor: string) => `${vendor}/${vendor}-lib-1.0.1.sh`;
/** Backends of this database waiting on a lock (a staging, or a move, held up). */
const WAITING =
  "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()";

// Issue 24 item 3 as an operator and the vendors of a coordinated release run it: two `fairpatch serve`
// processes over one database, wall-clock ticks, a stock TUF client. The members are ready at T; the
// coordinator moves the embargo to T + 7.5 min through one node while, through the other, a member
// stages outside it at exactly T (on PostgreSQL the staging is held, after its embargo check, until
// the move has had its chance: the race as it happens); another member's key is rotated after the
// move; an embargo naming a vendor whose release is pending before it is refused. Past T, no fix is
// served by either node.
describe.each(DIALECTS)('an embargo under every operation, on two processes (%s)', (dialect) => {
  const dir = mkdtempSync(join(tmpdir(), `fairpatch-drill-embargo-${dialect}-`));
  const keys = join(dir, 'keys');
  const nodes: DrillNode[] = [];
  afterAll(async () => {
    for (const node of nodes) await node.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('no member ships before the embargo, whatever the vendors and the coordinator do', async () => {
    const started = performance.now();
    generateRepositoryKeys({ dir: keys, now: Date.now() });
    // SQLite: both processes over one file, as the cache benchmarks run them.
    const databaseUrl = (await freshDatabase(dialect)) ?? join(dir, 'shared.sqlite');
    const env = { FAIRPATCH_OPERATOR_TOKEN: OPERATOR, DATABASE_URL: databaseUrl };
    for (const name of ['one', 'two'])
      nodes.push(
        await DrillNode.start(
          name,
          [
            '--data',
            join(dir, `data-${name}`),
            '--keys',
            keys,
            '--min-lead',
            '2s',
            '--node-name',
            name,
          ],
          env,
        ),
      );
    const [one, two] = nodes as [DrillNode, DrillNode];
    const vendors = new Map<string, Awaited<ReturnType<typeof registerVendor>>>();
    for (const v of ['acme', 'globex', 'quill'])
      vendors.set(v, await registerVendor(one.url, OPERATOR, keys, v));
    const vendor = (v: string) => vendors.get(v)!;
    const live = Math.max(...[...vendors.values()].map((v) => v.activationTick));
    await until('the delegations live', async () =>
      (await servedTick(two.url)) > live ? true : undefined,
    );
    const artifact = (v: string, via: DrillNode) =>
      uploadArtifact(via.url, vendor(v), {
        file: join(dir, `${v}.sh`),
        content: `echo ${v} fixed\n`,
        name: `${v}-lib-1.0.1.sh`,
      });
    const operator = (via: DrillNode) => new PublisherClient(via.url, OPERATOR);
    const refusal = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: { code?: string }) => e.code,
      );

    // quill has a release pending before the embargo's time: an embargo naming it is refused.
    const at = Math.ceil((Date.now() + 20_000) / 1000) * 1000;
    await stageRelease(two.url, vendor('quill'), [await artifact('quill', two)], {
      version: '1.0.1',
      releaseAt: at - 5_000,
      product: 'quill-lib',
    });
    expect(
      await refusal(
        operator(one).postJson('/embargoes', {
          id: `${ID}-q`,
          release_at: isoSeconds(at),
          members: ['quill', 'acme'],
        }),
      ),
    ).toBe('RELEASE_PENDING');

    await operator(one).postJson('/embargoes', {
      id: ID,
      release_at: isoSeconds(at),
      members: ['acme', 'globex'],
    });
    await stageRelease(two.url, vendor('acme'), [await artifact('acme', two)], {
      version: '1.0.1',
      releaseAt: at,
      product: 'acme-lib',
      embargo: ID,
    });
    const globexFix = await artifact('globex', two);
    const later = at + 7.5 * 60_000;
    const move = () =>
      operator(one).postJson(`/embargoes/${ID}/move`, { release_at: isoSeconds(later) });
    const stageOutside = () =>
      stageRelease(two.url, vendor('globex'), [globexFix], {
        version: '1.0.1',
        releaseAt: at,
        product: 'globex-lib',
      });
    if (dialect === 'postgres') {
      // globex's staging reads the embargo's time T, then waits on a row held uncommitted; the move
      // is sent meanwhile. Unfixed, it committed while the staging waited, which then wrote at T.
      const blocker = new pg.Client({ connectionString: databaseUrl });
      await blocker.connect();
      try {
        await blocker.query('BEGIN');
        await blocker.query(
          `INSERT INTO vendor_metadata (vendor, version, bytes, kind, effective_at, created_at)
           VALUES ('globex', 2, '{}', 'release', $1, $2)`,
          [at, Date.now()],
        );
        const waiting = async () =>
          Number((await blocker.query<{ n: string }>(WAITING)).rows[0]!.n);
        const staging = refusal(stageOutside());
        await until('the staging held', async () => ((await waiting()) >= 1 ? true : undefined));
        let moved = false;
        const moving = move().then(() => (moved = true));
        await until('the move answered or held', async () =>
          moved || (await waiting()) >= 2 ? true : undefined,
        );
        await blocker.query('ROLLBACK');
        await moving;
        // Staged first and re-timed by the move, or refused (EMBARGO_PENDING) after it.
        expect([undefined, 'EMBARGO_PENDING']).toContain(await staging);
      } finally {
        await blocker.end();
      }
    } else {
      // One writer at a time on SQLite: the move, then the staging at the old time, refused.
      await move();
      expect(await refusal(stageOutside())).toBe('EMBARGO_PENDING');
    }

    // acme's key is rotated after the move, through the node that did not move it (the operator's
    // `fairpatch vendor rotate`): it re-signs the fix, so it must not take effect at the old T.
    await cli(['keygen', '--keys', join(dir, 'vendor-keys'), '--vendor', 'acme-next']);
    const request = join(dir, 'acme.rotate.json');
    const requested = await cli([
      'vendor',
      'request',
      '--rotate',
      '--name',
      'acme',
      '--key',
      join(dir, 'vendor-keys', 'acme-next.key'),
      '--server',
      two.url,
      '--token',
      vendor('acme').token,
      '--out',
      request,
    ]);
    expect(requested.code, requested.stderr).toBe(0);
    const rotated = await cli([
      'vendor',
      'rotate',
      '--request',
      request,
      '--keys',
      keys,
      '--server',
      two.url,
      '--token',
      OPERATOR,
    ]);
    expect(rotated.code, rotated.stdout).not.toBe(0);
    expect(rotated.stderr).toMatch(/RELEASE_PENDING|EMBARGO_PENDING/);

    // Past T (and quill's own release): both nodes serve neither member's fix; quill's is out.
    const tickAfter = (await servedTick(one.url)) + Math.ceil((at - Date.now()) / 1000) + 2;
    for (const node of nodes)
      await until(`tick ${tickAfter} at ${node.name}`, async () =>
        (await servedTick(node.url)) >= tickAfter ? true : undefined,
      );
    for (const node of nodes) {
      const client = tufClient(node.url, 'eu-west', join(keys, '1.root.json'));
      const updater = client.updater();
      await updater.refresh();
      expect(await updater.getTargetInfo(fixOf('quill'))).toBeDefined();
      for (const v of ['acme', 'globex'])
        expect(await updater.getTargetInfo(fixOf(v)), `${v} at ${node.name}`).toBeUndefined();
    }
    const state = (await new PublisherClient(two.url, vendor('acme').token).request(
      'GET',
      `/embargoes/${ID}`,
    )) as { state: string; release_at: string };
    expect(state).toMatchObject({ state: 'pending', release_at: isoSeconds(later) });
    report(
      `${dialect}: embargo operations on two processes took ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  }, 120_000);
});
