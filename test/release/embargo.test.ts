import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { activationTick } from '../../src/common/tick.js';
import { embargoCommitment, sealedSchedule } from '../../src/log/embargo-leaves.js';
import { openSealedSchedules } from '../../src/audit/sealed-schedules.js';
import { EmbargoStore } from '../../src/release/embargo-store.js';
import { type Leaf, parseLeaf } from '../../src/log/leaves.js';
import type { FairpatchNode } from '../../src/server/node.js';
import { isoSeconds } from '../../src/tuf/time.js';
import { DIALECTS, freshDatabase } from '../helpers/dialects.js';
import { type Fixture, MINUTE, SECOND, createFixture, listen } from '../helpers/repo.js';
import { tufClient } from '../helpers/tuf-client.js';

const ID = 'CVE-2026-4242';
const MEMBERS = ['acme', 'globex', 'quill'];
const pathOf = (vendor: string) => `${vendor}/${vendor}-lib-1.0.1.sh`;

type Server = { url: string; close(): Promise<void> };

/** Over real HTTP: status, and the parsed body (the error's code when refused). */
async function call(
  server: Server,
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
): Promise<{
  status: number;
  body: Record<string, unknown> & { error?: { code: string; message: string } };
}> {
  const response = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function leaves(node: FairpatchNode): Promise<Leaf[]> {
  await node.sequencer.idle();
  const { size } = await node.log.head();
  return (await node.log.entries(0, size)).map((e) => parseLeaf(Buffer.from(e.data)));
}

describe.each(DIALECTS)('%s: an embargo (coordinated release)', (dialect) => {
  let fx: Fixture;
  let second: FairpatchNode;
  let servers: Server[];
  let releaseAt: number;
  const token = (vendor: string) => fx.vendors.get(vendor)!.token;

  beforeEach(async () => {
    fx = await createFixture({ databaseUrl: await freshDatabase(dialect) });
    for (const v of [...MEMBERS, 'initech']) await fx.addVendor(v);
    second = await fx.openNode();
    servers = [await listen(fx.node.app), await listen(second.app)];
    releaseAt = fx.clock.now() + 2 * MINUTE;
    const created = await call(servers[0]!, 'POST', '/embargoes', fx.operatorToken, {
      id: ID,
      release_at: isoSeconds(releaseAt),
      members: MEMBERS,
    });
    expect(created.status).toBe(201);
  });
  afterEach(async () => {
    for (const s of servers) await s.close();
    await fx.close();
  });

  /** The member's fix, signed with `at` as release_at, staged through node `via` (into the embargo unless `outside`). */
  const stage = async (
    vendor: string,
    at: number,
    options: { outside?: boolean; via?: number; version?: string } = {},
  ) => {
    const version = options.version ?? '1.0.1';
    const artifact = await fx.artifact(
      `${vendor}-lib-${version}.sh`,
      `echo ${vendor} fixed ${version}\n`,
      'linux-x64',
      vendor,
    );
    const envelope = await fx.release(
      vendor,
      { product: `${vendor}-lib`, version, applies_to: `<${version}` },
      [artifact],
      at,
    );
    return call(
      servers[options.via ?? 1]!,
      'POST',
      `/vendors/${vendor}/metadata${options.outside ? '' : `?embargo=${ID}`}`,
      token(vendor),
      envelope,
    );
  };
  const refresh = async (at: number) => {
    fx.clock.set(at);
    await fx.node.repo.refresh();
    await second.repo.refresh();
  };

  it('three members stage into it, activate in one snapshot at one tick on both nodes, and a stock TUF client sees all three fixes together', async () => {
    // Nobody else learns it exists: a non-member, an anonymous caller and a missing id all get the same 404.
    const hidden = [
      await call(servers[0]!, 'GET', `/embargoes/${ID}`, token('initech')),
      await call(servers[0]!, 'GET', `/embargoes/${ID}`, undefined),
      await call(servers[0]!, 'GET', '/embargoes/CVE-2026-0000', token('initech')),
    ];
    for (const h of hidden)
      expect({
        status: h.status,
        code: h.body.error?.code,
        message: h.body.error?.message,
      }).toEqual({ status: 404, code: 'NOT_FOUND', message: 'no such embargo' });

    expect((await stage('acme', releaseAt)).status).toBe(201);
    const state = await call(servers[1]!, 'GET', `/embargoes/${ID}`, token('quill'));
    expect(state.status).toBe(200);
    expect(state.body).toMatchObject({
      id: ID,
      release_at: isoSeconds(releaseAt),
      state: 'pending',
    });
    expect(
      (state.body.members as Array<{ vendor: string; ready: boolean }>).map((m) => [
        m.vendor,
        m.ready,
      ]),
    ).toEqual([
      ['acme', true],
      ['globex', false],
      ['quill', false],
    ]);
    expect((await stage('quill', releaseAt, { via: 0 })).status).toBe(201);
    expect((await stage('globex', releaseAt)).status).toBe(201);

    const eu = tufClient(servers[0]!.url, 'eu-west', join(fx.keysDir, '1.root.json'));
    const us = tufClient(servers[1]!.url, 'us-east', join(fx.keysDir, '1.root.json'));
    await refresh(releaseAt - 1);
    for (const client of [eu, us]) {
      const updater = client.updater();
      await updater.refresh();
      for (const v of MEMBERS) expect(await updater.getTargetInfo(pathOf(v))).toBeUndefined();
    }

    const k = activationTick(fx.node.repo.config, releaseAt);
    await refresh(releaseAt);
    // One timestamp flips the whole set: the snapshot of tick k lists every member's new version, the
    // one of tick k-1 none of them, one version apart, byte-identical on both nodes.
    const [a, b] = [fx.node.repo.view, second.repo.view];
    expect(a.timestampAt(k).equals(b.timestampAt(k))).toBe(true);
    expect(a.snapshotAt(k).bytes.equals(b.snapshotAt(k).bytes)).toBe(true);
    expect(a.snapshotVersionAt(k)).toBe(a.snapshotVersionAt(k - 1) + 1);
    const metaAt = (tick: number) =>
      (
        JSON.parse(a.snapshotAt(tick).bytes.toString()) as {
          signed: { meta: Record<string, { version: number }> };
        }
      ).signed.meta;
    for (const v of MEMBERS)
      expect(metaAt(k)[`${v}.json`]!.version).toBe(metaAt(k - 1)[`${v}.json`]!.version + 1);
    for (const client of [eu, us]) {
      const updater = client.updater();
      await updater.refresh();
      for (const v of MEMBERS)
        expect((await updater.getTargetInfo(pathOf(v)))?.custom).toMatchObject({
          product: `${v}-lib`,
          version: '1.0.1',
        });
    }

    // The log: committed as a hash before the tick, opened at it, and every activation in one snapshot.
    await fx.node.evidence.activations();
    await second.evidence.activations();
    const log = await leaves(fx.node);
    const revealed = log.filter((l) => l.type === 'embargo.revealed');
    expect(revealed).toHaveLength(1);
    const reveal = revealed[0] as Extract<Leaf, { type: 'embargo.revealed' }>;
    expect(reveal).toMatchObject({ id: ID, members: MEMBERS, left_out: [], activation_tick: k });
    const created = log.find((l) => l.type === 'embargo.created') as Extract<
      Leaf,
      { type: 'embargo.created' }
    >;
    expect(created.commitment).toBe(embargoCommitment(ID, MEMBERS, reveal.nonce));
    expect(
      JSON.stringify(
        log.filter((l) => l.type !== 'embargo.revealed' && l.type !== 'release.activated'),
      ),
    ).not.toContain(ID);
    const activations = log.filter(
      (l): l is Extract<Leaf, { type: 'release.activated' }> => l.type === 'release.activated',
    );
    expect(activations.map((l) => l.vendor).sort()).toEqual(MEMBERS);
    expect(new Set(activations.map((l) => `${l.tick}/${l.snapshot_version}`))).toEqual(
      new Set([`${k}/${a.snapshotVersionAt(k)}`]),
    );
  });

  it('refuses a member staging the fix outside the embargo before its time, and a release_at other than the embargo’s', async () => {
    const early = await stage('acme', releaseAt - 30 * SECOND, { outside: true });
    expect(early.status).toBe(422);
    expect(early.body.error?.code).toBe('EMBARGO_PENDING');
    expect(early.body.error?.message).toContain(ID);
    const otherTime = await stage('acme', releaseAt + MINUTE, { version: '1.0.2' });
    expect({ status: otherTime.status, code: otherTime.body.error?.code }).toEqual({
      status: 422,
      code: 'EMBARGO_INVALID',
    });
    // A non-member cannot stage into it, and learns nothing: the same 404 as a missing embargo.
    const outsider = await stage('initech', releaseAt);
    expect({
      status: outsider.status,
      code: outsider.body.error?.code,
      message: outsider.body.error?.message,
    }).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    // Everyone else ships as usual; a member ships outside it from the embargo's time on.
    expect(
      (await stage('initech', releaseAt - 30 * SECOND, { outside: true, version: '2.0.0' })).status,
    ).toBe(201);
    expect((await stage('acme', releaseAt, { outside: true, version: '1.0.3' })).status).toBe(201);
    // Hostile input: a bad id, a malformed body, a vendor token moving it.
    expect((await call(servers[0]!, 'GET', '/embargoes/..%2Fetc', fx.operatorToken)).status).toBe(
      404,
    );
    expect(
      (
        await call(servers[0]!, 'POST', '/embargoes', fx.operatorToken, {
          id: 'x y',
          release_at: 'soon',
          members: [],
        })
      ).body.error?.code,
    ).toBe('BAD_REQUEST');
    expect(
      (
        await call(servers[0]!, 'POST', `/embargoes/${ID}/move`, token('acme'), {
          release_at: isoSeconds(releaseAt + MINUTE),
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await call(servers[0]!, 'POST', '/embargoes', fx.operatorToken, {
          id: ID,
          release_at: isoSeconds(releaseAt),
          members: MEMBERS,
        })
      ).body.error?.code,
    ).toBe('ALREADY_EXISTS');
  });

  it('moving it moves every ready member on every node; leaving a member out is logged and revealed', async () => {
    expect((await stage('acme', releaseAt)).status).toBe(201);
    expect((await stage('quill', releaseAt)).status).toBe(201);
    // globex, not ready, ships something else outside it, at the embargo's time (allowed): it moves too.
    expect((await stage('globex', releaseAt, { outside: true, version: '0.9.0' })).status).toBe(
      201,
    );
    const later = releaseAt + 2 * MINUTE;
    const earlier = await call(servers[0]!, 'POST', `/embargoes/${ID}/move`, fx.operatorToken, {
      release_at: isoSeconds(releaseAt - MINUTE),
    });
    expect(earlier.body.error?.code).toBe('EMBARGO_INVALID');
    const moved = await call(servers[0]!, 'POST', `/embargoes/${ID}/move`, fx.operatorToken, {
      release_at: isoSeconds(later),
    });
    expect(moved.status).toBe(200);
    expect(moved.body.release_at).toBe(isoSeconds(later));
    // globex is not ready: the coordinator releases without it.
    const decided = await call(servers[1]!, 'POST', `/embargoes/${ID}/decide`, fx.operatorToken, {
      leave_out: ['globex'],
    });
    expect(decided.status).toBe(200);
    expect(
      (decided.body.members as Array<{ vendor: string; left_out: boolean }>).find(
        (m) => m.vendor === 'globex',
      )!.left_out,
    ).toBe(true);
    expect(
      (
        await call(servers[1]!, 'POST', `/embargoes/${ID}/decide`, fx.operatorToken, {
          leave_out: ['acme'],
        })
      ).body.error?.code,
    ).toBe('EMBARGO_INVALID');
    // Left out, globex still may not ship before the embargo: its fix is scheduled on its own, from then on.
    expect((await stage('globex', releaseAt, { outside: true })).body.error?.code).toBe(
      'EMBARGO_PENDING',
    );
    expect((await stage('globex', later)).body.error?.code).toBe('EMBARGO_INVALID');
    expect((await stage('globex', later + MINUTE, { outside: true })).status).toBe(201);

    const oldTick = activationTick(fx.node.repo.config, releaseAt);
    const newTick = activationTick(fx.node.repo.config, later);
    await refresh(releaseAt);
    for (const node of [fx.node, second]) {
      const meta = (
        JSON.parse(node.repo.view.snapshotAt(oldTick).bytes.toString()) as {
          signed: { meta: Record<string, { version: number }> };
        }
      ).signed.meta;
      expect(meta['acme.json']!.version).toBe(1);
      expect(meta['quill.json']!.version).toBe(1);
      expect(meta['globex.json']!.version).toBe(1);
      expect(node.repo.view.servedTargets('acme', 2, oldTick)).toBeUndefined();
    }
    await refresh(later);
    for (const node of [fx.node, second]) {
      const meta = (
        JSON.parse(node.repo.view.snapshotAt(newTick).bytes.toString()) as {
          signed: { meta: Record<string, { version: number }> };
        }
      ).signed.meta;
      expect([
        meta['acme.json']!.version,
        meta['quill.json']!.version,
        meta['globex.json']!.version,
      ]).toEqual([2, 2, 2]);
    }
    expect(
      fx.node.repo.view.timestampAt(newTick).equals(second.repo.view.timestampAt(newTick)),
    ).toBe(true);

    await fx.node.evidence.activations();
    const log = await leaves(fx.node);
    const decisions = log.filter((l) => l.type === 'embargo.decided');
    expect(decisions).toHaveLength(2);
    expect(JSON.stringify(decisions)).not.toContain('globex');
    const reveal = log.find((l) => l.type === 'embargo.revealed');
    expect(reveal).toMatchObject({
      members: MEMBERS,
      left_out: ['globex'],
      activation_tick: newTick,
      decisions: [
        { decision: 'moved', activation_tick: newTick },
        { decision: 'left-out', member: 'globex', activation_tick: newTick },
      ],
    });
    // Each member's version is committed sealed (neither who nor when), again when a move re-times
    // it; the reveal opens those at the embargo's tick, which the auditor reads as their schedules.
    // (globex's own fix, after the embargo, is scheduled in the clear as any release is.)
    expect(
      log.filter(
        (l) =>
          l.type === 'release.scheduled' &&
          (l.activation_tick === oldTick || l.activation_tick === newTick),
      ),
    ).toEqual([]);
    expect(log.filter((l) => l.type === 'schedule.sealed')).toHaveLength(6);
    const opened = openSealedSchedules(log.map((leaf, index) => ({ index, leaf })));
    expect(opened.findings).toEqual([]);
    const schedules = opened.leaves.flatMap(({ leaf: l }) =>
      l.type === 'release.scheduled' && l.vendor === 'acme' ? [l] : [],
    );
    expect(schedules.map((s) => s.activation_tick)).toEqual([newTick]);
    const activated = log.filter(
      (l): l is Extract<Leaf, { type: 'release.activated' }> => l.type === 'release.activated',
    );
    expect(activated.filter((l) => l.vendor !== 'globex').map((l) => l.tick)).toEqual([
      newTick,
      newTick,
    ]);
  });

  it('a move whose leaves a crash kept out of the log (decision, new schedules) is committed at the next start', async () => {
    expect((await stage('acme', releaseAt)).status).toBe(201);
    const later = releaseAt + 2 * MINUTE;
    // The database moved, the process died before logging: no new schedule leaf yet.
    await new EmbargoStore(fx.node.db).move(ID, later, fx.clock.now(), () => {});
    const third = await fx.openNode();
    const log = await leaves(third);
    // The decision too: the reveal must not open more decisions than were committed before the tick.
    // Its tick only inside the hash, like the decision itself, until the reveal.
    expect(log.filter((l) => l.type === 'embargo.decided')).toEqual([
      expect.not.objectContaining({ activation_tick: expect.anything() }),
    ]);
    expect(log.filter((l) => l.type === 'embargo.decided')).toMatchObject([{ seq: 1, v: 2 }]);
    expect(log.filter((l) => l.type === 'embargo.created')).toHaveLength(1);
    // The moved version's schedule, sealed for the new tick (and the first, for the old one).
    const record = (await new EmbargoStore(fx.node.db).get(ID))!;
    const acme = third.repo.view.state.vendors.get('acme')!.at(-1)!;
    const sealed = (tick: number) =>
      sealedSchedule(ID, record.nonce, {
        kind: 'release',
        vendor: 'acme',
        metadata_version: acme.version,
        metadata_sha256: acme.sha256,
        activation_tick: tick,
      });
    expect(log.flatMap((l) => (l.type === 'schedule.sealed' ? [l.sealed] : []))).toEqual([
      sealed(activationTick(fx.node.repo.config, releaseAt)),
      sealed(activationTick(fx.node.repo.config, later)),
    ]);
    expect(log.filter((l) => l.type === 'release.scheduled')).toEqual([]);
  });
});
