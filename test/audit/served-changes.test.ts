import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type AuditOutcome, runAudit } from '../../src/audit/run.js';
import { readPrivateKey } from '../../src/keys/key-files.js';
import { generateVendorKey, readOnlineKeys, rotateRoot } from '../../src/keys/keygen.js';
import { type Leaf, type LeafOf, parseLeaf } from '../../src/log/leaves.js';
import { buildHalt, buildKeyRotation } from '../../src/publish/build.js';
import { tickAt, tickStart } from '../../src/common/tick.js';
import { isoSeconds } from '../../src/tuf/time.js';
import {
  type Envelope,
  type TargetsSigned,
  envelopeBytes,
  signEnvelope,
} from '../../src/tuf/metadata.js';
import { type Rewrite, adversary, secondBySecond } from '../helpers/audit-scenario.js';
import { DIALECTS, type Dialect, freshDatabase } from '../helpers/dialects.js';
import { ReceiptCollector, overHttp } from '../helpers/receipts.js';
import { type Fixture, SECOND, createFixture, listen, readRoot } from '../helpers/repo.js';

// Issue 23 item 3: nothing is served that the log does not hold. Every version that changes what
// clients are served has its leaves (committed before its tick, opened at it); a refresh or a key
// rotation cannot carry a pending release; and a node that serves a change with no leaf is caught.

const GROUPS = ['eu-west', 'us-east'];

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

interface World {
  fx: Fixture;
  url: string;
  start: number;
  collector: ReceiptCollector;
}

async function world(dialect: Dialect): Promise<World> {
  const fx = await createFixture({ databaseUrl: await freshDatabase(dialect) });
  cleanup.push(() => fx.close());
  await fx.addVendor('acme');
  await fx.node.appDeps.declareGroups!(GROUPS);
  const http = await listen(fx.node.app);
  cleanup.push(() => http.close());
  return { fx, url: http.url, start: fx.clock.now(), collector: new ReceiptCollector(fx.clock) };
}

const post = (url: string, path: string, token: string, body: unknown) =>
  fetch(`${url}/api/v1${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

/** The vendor's current targets re-signed unchanged, one version up: a refresh. */
async function refreshOf(fx: Fixture): Promise<Envelope<TargetsSigned>> {
  const previous = (await fx.node.store.latestVendorMetadata('acme'))!.signed;
  const signed: TargetsSigned = {
    ...previous,
    version: previous.version + 1,
    expires: new Date(fx.clock.now() + 30 * 24 * 3600 * SECOND).toISOString().slice(0, 19) + 'Z',
  };
  return signEnvelope(signed, [fx.vendors.get('acme')!.key]);
}

/** The operator's `fairpatch vendor rotate`: a new key, the targets re-signed by it, the new delegation. */
async function rotationOf(fx: Fixture, name: string): Promise<unknown> {
  const newKey = generateVendorKey(fx.keysDir, name);
  const body = buildKeyRotation({
    name: 'acme',
    newKey,
    targetsKey: readPrivateKey(join(fx.keysDir, 'targets.key')),
    previousTop: (
      JSON.parse((await fx.node.store.latestTopTargets())!.bytes) as Envelope<TargetsSigned>
    ).signed,
    previous: (await fx.node.store.latestVendorMetadata('acme'))!.signed,
    now: fx.clock.now(),
  });
  fx.vendors.set('acme', { key: newKey, token: fx.vendors.get('acme')!.token });
  return body;
}

/** Every group polls `server` every 5 s (every second within `everySecond`), time driven by hand. */
async function run(
  w: World,
  to: number,
  options: {
    server?: ReturnType<typeof overHttp>;
    at?: Map<number, () => Promise<void>>;
    everySecond?: [number, number];
  } = {},
): Promise<void> {
  // The agents poll the node over real HTTP (the adversary, when there is one, stands in between).
  const server = options.server ?? overHttp(w.url);
  const from = w.fx.clock.now();
  await secondBySecond(w.fx, from, to, async (k) => {
    await options.at?.get(k)?.();
    const [a, b] = options.everySecond ?? [0, -1];
    for (const [i, group] of GROUPS.entries())
      if ((k + i * 2) % 5 === 0 || (k >= a && k <= b)) await w.collector.poll(server, group);
  });
  await w.fx.node.evidence.rollup();
  await w.collector.submit(overHttp(w.url));
  await w.fx.node.sequencer.idle();
}

/** An audit over HTTP pinned to root 1, each group's agents vouched for by their owner (`--clients`). */
function audit(w: World): Promise<AuditOutcome> {
  const pinned = Object.fromEntries(
    GROUPS.map((g) => [g, w.collector.agentsOf(g).map((a) => a.publicKey)]),
  );
  return runAudit({
    server: w.url,
    stateDir: mkdtempSync(join(tmpdir(), 'fairpatch-audit-')),
    logKey: w.fx.node.logVerifierKey,
    root: readRoot(w.fx.keysDir),
    now: w.fx.clock.now(),
    options: { pinned },
  });
}

async function leaves(fx: Fixture): Promise<Array<{ index: number; leaf: Leaf }>> {
  await fx.node.sequencer.idle();
  const { size } = await fx.node.log.head();
  return (await fx.node.log.entries(0, size)).map((e) => ({
    index: e.index,
    leaf: parseLeaf(Buffer.from(e.data, 'utf8')),
  }));
}
const ofType = <T extends Leaf['type']>(all: Array<{ index: number; leaf: Leaf }>, type: T) =>
  all.filter((l): l is { index: number; leaf: LeafOf<T> } => l.leaf.type === type);

const tickOf = (fx: Fixture, ms: number) => tickAt(fx.node.repo.config, ms);
const tickStartOf = (fx: Fixture, k: number) => tickStart(fx.node.repo.config, k);

describe.each(DIALECTS)('%s: served changes and the log', (dialect) => {
  it.each([
    [
      'a refresh',
      (w: World) =>
        refreshOf(w.fx).then((body) =>
          post(w.url, '/vendors/acme/metadata', w.fx.vendors.get('acme')!.token, body),
        ),
    ],
    [
      'a key rotation',
      (w: World) =>
        rotationOf(w.fx, 'acme-2').then((body) =>
          post(w.url, '/vendors/acme/key', w.fx.operatorToken, body),
        ),
    ],
  ] as const)(
    '%s while a release is pending is refused (409 RELEASE_PENDING); the release is logged at its tick; FAIR',
    async (_, attempt) => {
      const w = await world(dialect);
      const releaseAt = w.start + 60 * SECOND;
      await w.fx.stage('acme', {}, [await w.fx.artifact('agent.sh', 'a')], releaseAt);
      w.fx.clock.set(w.start + 2 * SECOND);
      const refused = await attempt(w);
      expect(refused.status).toBe(409);
      const body = (await refused.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('RELEASE_PENDING');
      expect(body.error.message).toMatch(/pending until/);

      await run(w, w.start + 120 * SECOND);
      const all = await leaves(w.fx);
      const activated = ofType(all, 'release.activated').filter((l) => l.leaf.vendor === 'acme');
      expect(activated.map((l) => l.leaf.tick)).toEqual([tickOf(w.fx, releaseAt)]);
      const outcome = await audit(w);
      expect(outcome.report!.findings).toEqual([]);
      expect(outcome.report!.verdict).toBe('FAIR');
    },
  );

  it('a refresh and a key rotation with nothing pending: each committed before its tick, opened at it; FAIR', async () => {
    const w = await world(dialect);
    const releaseAt = w.start + 30 * SECOND;
    await w.fx.stage('acme', {}, [await w.fx.artifact('agent.sh', 'a')], releaseAt);
    const refreshed = new Map<number, () => Promise<void>>();
    let refreshTick = 0;
    let rotationTick = 0;
    const k0 = tickOf(w.fx, w.start);
    refreshed.set(k0 + 40, async () => {
      const response = await post(
        w.url,
        '/vendors/acme/metadata',
        w.fx.vendors.get('acme')!.token,
        await refreshOf(w.fx),
      );
      expect(response.status).toBe(201);
      refreshTick = ((await response.json()) as { activationTick: number }).activationTick;
    });
    refreshed.set(k0 + 80, async () => {
      const response = await post(
        w.url,
        '/vendors/acme/key',
        w.fx.operatorToken,
        await rotationOf(w.fx, 'acme-2'),
      );
      expect(response.status).toBe(201);
      rotationTick = ((await response.json()) as { activationTick: number }).activationTick;
    });
    await run(w, w.start + 150 * SECOND, { at: refreshed });
    expect(refreshTick).toBeGreaterThan(k0 + 40);
    expect(rotationTick).toBeGreaterThan(k0 + 80);

    const all = await leaves(w.fx);
    const scheduled = ofType(all, 'change.scheduled');
    const activated = ofType(all, 'change.activated');
    for (const [role, version, tick] of [
      ['acme', 3, refreshTick],
      ['acme', 4, rotationTick],
      ['targets', 3, rotationTick],
    ] as const) {
      const commitment = scheduled.find(
        (l) => l.leaf.role === role && l.leaf.metadata_version === version,
      );
      const opening = activated.find(
        (l) => l.leaf.role === role && l.leaf.metadata_version === version,
      );
      expect(commitment?.leaf.activation_tick).toBe(tick);
      expect(opening?.leaf.tick).toBe(tick);
      expect(commitment!.index).toBeLessThan(opening!.index);
    }
    const outcome = await audit(w);
    expect(outcome.report!.findings).toEqual([]);
    expect(outcome.report!.verdict).toBe('FAIR');
  });

  it('a release halted before its tick and a root rotation (new timestamp key): every version explained; FAIR', async () => {
    const w = await world(dialect);
    const k0 = tickOf(w.fx, w.start);
    const withdrawnAt = w.start + 60 * SECOND;
    await w.fx.stage('acme', {}, [await w.fx.artifact('agent.sh', 'a')], withdrawnAt);
    const at = new Map<number, () => Promise<void>>();
    at.set(k0 + 5, async () => {
      const { envelope } = buildHalt({
        vendor: 'acme',
        version: '2.4.1',
        previous: (await w.fx.node.store.latestVendorMetadata('acme'))!.signed,
        vendorKey: w.fx.vendors.get('acme')!.key,
        now: w.fx.clock.now(),
      });
      const response = await post(
        w.url,
        '/vendors/acme/metadata',
        w.fx.vendors.get('acme')!.token,
        envelope,
      );
      expect(response.status).toBe(201);
    });
    at.set(k0 + 70, async () => {
      const { path } = rotateRoot({
        dir: w.fx.keysDir,
        now: w.fx.clock.now(),
        rotate: ['timestamp'],
      });
      const response = await fetch(`${w.url}/api/v1/root`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${w.fx.operatorToken}`,
          'content-type': 'application/json',
        },
        body: readFileSync(path),
      });
      expect(response.status).toBe(201);
    });
    await run(w, w.start + 160 * SECOND, { at });

    const all = await leaves(w.fx);
    expect(
      ofType(all, 'change.activated').some(
        (l) => l.leaf.role === 'root' && l.leaf.metadata_version === 2,
      ),
    ).toBe(true);
    const outcome = await audit(w);
    expect(outcome.report!.findings).toEqual([]);
    expect(outcome.report!.verdict).toBe('FAIR');
  });

  it('an embargo moved later: the members go live at the new tick, logged there; FAIR', async () => {
    const w = await world(dialect);
    await w.fx.addVendor('quill');
    const id = 'CVE-2026-4243';
    const first = w.start + 60 * SECOND;
    const moved = w.start + 90 * SECOND;
    const created = await post(w.url, '/embargoes', w.fx.operatorToken, {
      id,
      release_at: isoSeconds(first),
      members: ['acme', 'quill'],
    });
    expect(created.status).toBe(201);
    for (const vendor of ['acme', 'quill']) {
      const artifact = await w.fx.artifact(`${vendor}.sh`, vendor, 'linux-x64', vendor);
      const body = await w.fx.release(
        vendor,
        { product: `${vendor}-lib`, version: '1.0.1', applies_to: '<1.0.1' },
        [artifact],
        first,
      );
      const staged = await post(
        w.url,
        `/vendors/${vendor}/metadata?embargo=${id}`,
        w.fx.vendors.get(vendor)!.token,
        body,
      );
      expect(staged.status).toBe(201);
    }
    const move = await post(w.url, `/embargoes/${id}/move`, w.fx.operatorToken, {
      release_at: isoSeconds(moved),
    });
    expect(move.status).toBe(200);
    await run(w, w.start + 170 * SECOND);

    const activated = ofType(await leaves(w.fx), 'release.activated');
    expect(activated.map((l) => [l.leaf.vendor, l.leaf.tick])).toEqual([
      ['acme', tickOf(w.fx, moved)],
      ['quill', tickOf(w.fx, moved)],
    ]);
    const outcome = await audit(w);
    expect(outcome.report!.findings).toEqual([]);
    expect(outcome.report!.verdict).toBe('FAIR');
  });

  it('a node started after a root rotation logs what it can sign and starts (no old key needed)', async () => {
    const w = await world(dialect);
    const { path } = rotateRoot({
      dir: w.fx.keysDir,
      now: w.fx.clock.now(),
      rotate: ['timestamp'],
    });
    const added = await w.fx.node.repo.addRoot(readFileSync(path));
    await run(w, tickStartOf(w.fx, added.activationTick + 2));
    // A node that starts now without root 1's timestamp key (destroyed after the rotation): the
    // registrations of the first ticks, signed under root 1, are past ticks it cannot sign and never
    // served (the first node logged them); it logs what it can and starts.
    rmSync(join(w.fx.keysDir, 'timestamp.key'));
    const late = await w.fx.openNode();
    await late.evidence.activations();
    const all = await leaves(w.fx);
    const opened = ofType(all, 'change.activated').map(
      (l) => `${l.leaf.role}/${l.leaf.metadata_version}`,
    );
    expect(opened).toEqual(expect.arrayContaining(['targets/2', 'acme/1', 'root/2']));
  });

  it('a change written behind the log (straight into the database): UNFAIR (proof) change-uncommitted', async () => {
    const w = await world(dialect);
    const k0 = tickOf(w.fx, w.start);
    const at = new Map<number, () => Promise<void>>();
    at.set(k0 + 5, async () => {
      // An operator with database access stages a refresh without the repository, so nothing
      // commits it before its tick; the nodes serve it, and open it at its tick.
      const body = await refreshOf(w.fx);
      await w.fx.node.store.stageVendorMetadata({
        vendor: 'acme',
        version: body.signed.version,
        bytes: envelopeBytes(body),
        kind: 'refresh',
        effectiveAt: w.fx.clock.now() + 30 * SECOND,
        now: w.fx.clock.now(),
      });
      await w.fx.node.repo.refresh();
    });
    await run(w, w.start + 120 * SECOND, { at });
    const outcome = await audit(w);
    expect(outcome.report!.verdict).toBe('UNFAIR');
    expect(outcome.report!.findings.map((f) => [f.kind, f.class])).toEqual([
      ['change-uncommitted', 'proof'],
    ]);
  });

  it('a node serving a snapshot version no leaf explains: UNFAIR (proof) change-unlogged', async () => {
    const w = await world(dialect);
    const releaseAt = w.start + 30 * SECOND;
    await w.fx.stage('acme', {}, [await w.fx.artifact('agent.sh', 'a')], releaseAt);
    const forgeFrom = tickOf(w.fx, w.start) + 60;
    const keys = readOnlineKeys(w.fx.keysDir, w.fx.node.repo.latestRoot());
    // From forgeFrom on, every group is served a statement, signed with the real timestamp key,
    // naming one snapshot version more than the log explains: a change served with no leaf.
    const rewrite: Rewrite = (_, k) => {
      if (k < forgeFrom || k > forgeFrom + 5) return undefined;
      const genuine = JSON.parse(w.fx.node.repo.view.timestampAt(k).toString()) as Envelope<{
        meta: { 'snapshot.json': { version: number } };
      }>;
      const version = genuine.signed.meta['snapshot.json'].version + 1;
      return envelopeBytes(
        signEnvelope({ ...genuine.signed, meta: { 'snapshot.json': { version } } }, [
          keys.timestamp,
        ]),
      );
    };
    await run(w, w.start + 130 * SECOND, {
      server: adversary(w.fx, rewrite),
      everySecond: [forgeFrom, forgeFrom + 5],
    });
    const outcome = await audit(w);
    expect(outcome.report!.verdict).toBe('UNFAIR');
    const unlogged = outcome.report!.findings.filter((f) => f.kind === 'change-unlogged');
    expect(unlogged.map((f) => f.evidence.tick)).toEqual(
      Array.from({ length: 6 }, (_, i) => forgeFrom + i),
    );
    expect(unlogged.every((f) => f.class === 'proof' && f.unfair)).toBe(true);
  });
});
