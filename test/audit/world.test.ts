import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { type AuditOutcome, runAudit } from '../../src/audit/run.js';
import type { ExternalEvidence } from '../../src/audit/observations.js';
import { tickAt, tickStart } from '../../src/common/tick.js';
import { readOnlineKeys } from '../../src/keys/keygen.js';
import { buildTimestamp } from '../../src/tuf/roles.js';
import { envelopeBytes, metaFile, signEnvelope } from '../../src/tuf/metadata.js';
import { secondBySecond } from '../helpers/audit-scenario.js';
import { SimAgent, overHttp, simAgents } from '../helpers/receipts.js';
import { GroupOwners } from '../helpers/owners.js';
import { type Fixture, SECOND, createFixture, listen, readRoot } from '../helpers/repo.js';

// A simulated world: five groups of twenty agents with mixed poll intervals, over real HTTP, through
// an edge that may cheat one group, alongside honest groups. In every scenario the audit's verdict
// must match the ground truth for every group: UNFAIR naming exactly the victims, nothing against
// honest groups, honest runs FAIR.

const GROUPS = ['eu-west', 'us-east', 'ap-south', 'sa-east', 'af-south'];
const PER_GROUP = 20;
// Seconds between timer polls: a fleet polls at mixed rates, and while an agent holds the event
// stream its timer is only a slow safety net (the real agent's ten intervals).
const INTERVALS = [20, 30, 45];
const VICTIM = 'ap-south';

interface Edge {
  /** Answer this group's path with this status instead (an outage for one group), or undefined. */
  status?: (group: string, k: number) => number | undefined;
  /** Bytes to answer instead of the real timestamp for this group at tick k, or undefined. */
  timestamp?: (group: string, k: number) => Buffer | undefined;
  /** Whether the push for an activation reaches this group's agents. */
  pushReaches?: (group: string) => boolean;
  /** Answer this group's artifact downloads with this status instead (artifacts held back), or undefined. */
  artifactStatus?: (group: string, k: number) => number | undefined;
  /** Receipts from this group never reach the server (the edge answers 201 and drops them). */
  swallowReceipts?: (group: string) => boolean;
}

interface World {
  fx: Fixture;
  activationTick: number;
  agents: SimAgent[];
  audit(external?: ExternalEvidence[], quorum?: number): Promise<AuditOutcome>;
}

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function world(
  makeEdge: (fx: Fixture, activationTick: number) => Edge = () => ({}),
  /** Groups whose agents no owner vouches for, and declared groups with no agents at all. */
  shape: { unvouched?: string[]; agentless?: string[]; unvouchedPerMinute?: number } = {},
): Promise<World> {
  const fx = await createFixture(
    shape.unvouchedPerMinute
      ? { settings: { unvouchedReceiptsPerMinute: shape.unvouchedPerMinute } }
      : {},
  );
  cleanup.push(() => fx.close());
  await fx.addVendor('acme');
  const owners = new GroupOwners(GROUPS, () => fx.clock.now());
  const vouchedOwners = Object.fromEntries(
    Object.entries(owners.owners).filter(([g]) => !shape.unvouched?.includes(g)),
  );
  await fx.node.appDeps.declareGroups!([...GROUPS, ...(shape.agentless ?? [])], vouchedOwners);
  const releaseAt = fx.clock.now() + 30 * SECOND;
  const artifact = await fx.artifact('agent.sh', 'fix');
  await fx.node.repo.stageVendorMetadata(
    'acme',
    await fx.release('acme', {}, [artifact], releaseAt),
  );
  const activationTick = tickAt(fx.node.repo.config, releaseAt);
  const held = new Set<SimAgent>();
  const edge = makeEdge(fx, activationTick);

  // The edge in front of the node, over real HTTP: it may rewrite one group's statements.
  const app = new Hono();
  app.get('/g/:group/metadata/timestamp.json', (c) => {
    const status = edge.status?.(c.req.param('group'), fx.node.repo.currentTick());
    if (status)
      return c.json({ error: { code: 'NOT_READY', message: 'unavailable' } }, status as 503);
    const forged = edge.timestamp?.(c.req.param('group'), fx.node.repo.currentTick());
    return forged
      ? c.body(new Uint8Array(forged), 200, { 'content-type': 'application/json' })
      : fx.node.app.fetch(c.req.raw);
  });
  app.get('/g/:group/targets/*', (c) => {
    const status = edge.artifactStatus?.(c.req.param('group'), fx.node.repo.currentTick());
    return status
      ? c.json({ error: { code: 'NOT_READY', message: 'unavailable' } }, status as 503)
      : fx.node.app.fetch(c.req.raw);
  });
  app.all('*', (c) => fx.node.app.fetch(c.req.raw));
  const http = await listen(app);
  cleanup.push(() => http.close());
  const via = overHttp(http.url);

  const agents = GROUPS.flatMap((g) =>
    simAgents([g], PER_GROUP, fx.clock, shape.unvouched?.includes(g) ? undefined : owners),
  );
  await secondBySecond(fx, releaseAt - 15 * SECOND, releaseAt + 50 * SECOND, async (k) => {
    await Promise.all(
      agents.map(async (agent, i) => {
        const interval = INTERVALS[i % INTERVALS.length]!;
        const pushed = k === activationTick && edge.pushReaches?.(agent.group) !== false;
        // Agents hold the event stream: a push makes them poll at once; otherwise their timer does.
        let polled: { snapshot: number } | undefined;
        if (pushed) polled = await agent.poll(via, undefined, { pushed: true });
        else if ((k + i) % interval === 0)
          polled = await agent.poll(via, undefined, { pushed: false });
        // Once a statement carries the release, the agent fetches the artifact it names.
        if (polled && k >= activationTick && !held.has(agent)) {
          const path = `/g/${agent.group}/targets/acme/${artifact.sha256}.agent.sh`;
          if (await agent.fetchArtifact(via, path, 'acme/agent.sh')) held.add(agent);
        }
      }),
    );
  });
  for (const agent of agents)
    if (!edge.swallowReceipts?.(agent.group)) await agent.submit(fx.node.app);
  await fx.node.evidence.rollup();
  await fx.node.sequencer.idle();

  const server = await listen(fx.node.app);
  cleanup.push(() => server.close());
  const root = readRoot(fx.keysDir);
  const audit = (external: ExternalEvidence[] = [], quorum = 3) =>
    runAudit({
      server: server.url,
      stateDir: mkdtempSync(join(tmpdir(), 'fp-world-')),
      logKey: fx.node.logVerifierKey,
      root,
      now: fx.clock.now(),
      external,
      options: { quorum },
    });
  return { fx, activationTick, agents, audit };
}

const convicted = (o: AuditOutcome) =>
  [...new Set(o.report!.findings.filter((f) => f.unfair).map((f) => f.group ?? '(all)'))].sort();
const kinds = (o: AuditOutcome, group: string) =>
  [
    ...new Set(
      o
        .report!.findings.filter((f) => f.unfair && f.group === group)
        .map((f) => `${f.class}:${f.kind}`),
    ),
  ].sort();

/** A validly signed timestamp for tick k over snapshot version `snapshotOf` (what a cheating operator can sign). */
function signedTimestamp(fx: Fixture, k: number, snapshotTick: number): Buffer {
  const view = fx.node.repo.view;
  const snapshot = view.snapshotAt(snapshotTick);
  const keys = readOnlineKeys(fx.keysDir, fx.node.repo.latestRoot());
  const expires = tickStart(fx.node.repo.config, k) + fx.node.repo.config.freshnessMs;
  return envelopeBytes(
    signEnvelope(
      buildTimestamp(k, expires, metaFile(snapshot.version, snapshot.bytes), fx.node.repo.config),
      [keys.timestamp],
    ),
  );
}

describe('a simulated world of 5 groups × 20 agents', () => {
  it('honest: FAIR, every declared group covered, every group delivered within a poll interval', async () => {
    const { audit } = await world();
    const outcome = await audit();
    expect(outcome.report!.findings.filter((f) => f.class !== 'note')).toEqual([]);
    expect(outcome.report!.verdict).toBe('FAIR');
    expect(outcome.exitCode).toBe(0);
    const release = outcome.report!.releases[0]!;
    expect(release.title).toBe('acme-agent 2.4.1');
    expect(Object.keys(release.groups).sort()).toEqual([...GROUPS].sort());
    for (const g of Object.values(release.groups)) expect(g.agents).toBe(PER_GROUP);
    expect(release.equityGapMs).toBeLessThan(2 * SECOND);
  });

  it('an edge withholding the pre-release statement from one group: UNFAIR for that group only, by testimony', async () => {
    // An edge holds no keys: it replays the last pre-release statement, still valid for minutes.
    const { audit } = await world((fx, activation) => ({
      timestamp: (g, k) =>
        g === VICTIM && k >= activation
          ? Buffer.from(fx.node.repo.view.timestampAt(activation - 1))
          : undefined,
    }));
    const outcome = await audit();
    expect(outcome.exitCode).toBe(1);
    expect(convicted(outcome)).toEqual([VICTIM]);
    expect(kinds(outcome, VICTIM)).toContain('testimony:served-without-release');
  });

  it('an edge serving one group a 20 s old statement: UNFAIR for that group, served stale', async () => {
    const { audit } = await world((fx) => ({
      timestamp: (g, k) =>
        g === VICTIM && k > 20 ? Buffer.from(fx.node.repo.view.timestampAt(k - 20)) : undefined,
    }));
    const outcome = await audit();
    expect(outcome.exitCode).toBe(1);
    expect(convicted(outcome)).toEqual([VICTIM]);
    expect(kinds(outcome, VICTIM)).toContain('testimony:served-stale');
  });

  it('an edge dropping only the push for one group: UNFAIR for that group, push missing', async () => {
    const { audit } = await world(() => ({ pushReaches: (g) => g !== VICTIM }));
    const outcome = await audit();
    expect(convicted(outcome)).toEqual([VICTIM]);
    expect(kinds(outcome, VICTIM)).toEqual(['testimony:push-missing']);
  });

  it("503 on one group's path for 20 s: its agents get around it, and the outage for that group alone is testimony", async () => {
    const { audit } = await world((_fx, activation) => ({
      status: (g, k) => (g === VICTIM && k >= activation && k < activation + 20 ? 503 : undefined),
    }));
    const outcome = await audit();
    expect(outcome.exitCode).toBe(1);
    expect(convicted(outcome)).toEqual([VICTIM]);
    expect(kinds(outcome, VICTIM)).toEqual(['testimony:group-path-failing']);
    // Delivered all the same, through the plain path: every group on time.
    for (const g of Object.values(outcome.report!.releases[0]!.groups))
      expect(g.firstDeliveryMs).toBeLessThan(2 * SECOND);
  });

  it('artifacts held back from one group: UNFAIR for that group, artifacts unavailable', async () => {
    const { audit } = await world((_fx, activation) => ({
      artifactStatus: (g, k) => (g === VICTIM && k < activation + 40 ? 503 : undefined),
    }));
    const outcome = await audit();
    expect(convicted(outcome)).toEqual([VICTIM]);
    expect(kinds(outcome, VICTIM)).toEqual(['testimony:artifacts-unavailable']);
  });

  it("one group's receipts swallowed: cannot verify that group without them; UNFAIR with the agents' exported receipts", async () => {
    let withheldBy: SimAgent[] = [];
    const { audit, agents } = await world((fx, activation) => ({
      timestamp: (g, k) =>
        g === VICTIM && k >= activation
          ? Buffer.from(fx.node.repo.view.timestampAt(activation - 1))
          : undefined,
      swallowReceipts: (g) => g === VICTIM,
    }));
    withheldBy = agents.filter((a) => a.group === VICTIM);
    const without = await audit();
    expect(without.exitCode).toBe(2);
    expect(
      without.report!.findings.filter((f) => f.class === 'cannot-verify').map((f) => f.group),
    ).toEqual([VICTIM]);
    const files = withheldBy.map((a, i) => ({ source: `file agent-${i}.json`, ...a.batch() }));
    const withFiles = await audit(files);
    expect(withFiles.exitCode).toBe(1);
    expect(convicted(withFiles)).toEqual([VICTIM]);
    expect(
      withFiles
        .report!.findings.find((f) => f.unfair)!
        .sources!.every((s) => s.startsWith('file ')),
    ).toBe(true);
  });

  it('one lying client framing an honest group with an old statement: uncorroborated, never UNFAIR', async () => {
    const { audit, fx } = await world();
    const liar = new SimAgent('eu-west', fx.clock);
    const old = fx.node.repo.currentTick() - 30;
    await liar.poll({ request: async () => new Response(fx.node.repo.view.timestampAt(old)) });
    await liar.submit(fx.node.app);
    await fx.node.sequencer.idle();
    const outcome = await audit();
    expect(outcome.exitCode).toBe(0);
    const claim = outcome.report!.findings.find(
      (f) => f.kind === 'served-stale' && f.group === 'eu-west',
    );
    expect(claim).toMatchObject({ class: 'testimony', unfair: false, witnesses: [liar.publicKey] });
  });

  it("a client re-labelling another group's receipt: refused at intake, so it cannot shrink a victim's delay", async () => {
    const { fx } = await world();
    const honest = new SimAgent('eu-west', fx.clock);
    await honest.poll(fx.node.app);
    const batch = honest.batch();
    const relabelled = {
      ...batch,
      receipts: batch.receipts.map((r) => ({
        ...r,
        observation: { ...r.observation, group: VICTIM },
      })),
    };
    const response = await fx.node.app.request('/api/v1/receipts', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(relabelled),
    });
    expect(response.status).toBe(422);
  });

  it('a favoured group served the release a few ticks early, in validly signed statements: UNFAIR by proof', async () => {
    const favoured = 'us-east';
    const { audit } = await world((fx, activation) => ({
      timestamp: (g, k) =>
        g === favoured && k >= activation - 5 && k < activation
          ? signedTimestamp(fx, k, activation)
          : undefined,
    }));
    const outcome = await audit();
    expect(outcome.exitCode).toBe(1);
    const early = outcome.report!.findings.filter((f) => f.kind === 'early-release');
    expect(early.length).toBeGreaterThan(0);
    expect(early.every((f) => f.class === 'proof' && f.group === favoured)).toBe(true);
    // Every finding that names a group names the favoured one. An equivocation at a tick where one
    // other group polled is one group against one: it names both and singles out neither.
    expect(convicted(outcome).filter((g) => g !== '(all)')).toEqual([favoured]);
    for (const f of outcome.report!.findings.filter((x) => x.unfair && !x.group)) {
      expect(f.kind).toBe('equivocation');
      expect(f.evidence.groups).toContain(favoured);
    }
  });

  it('vouched and unvouched: only the withheld vouched group is UNFAIR; Sybils, fake coverage and junk change nothing', async () => {
    const UNVOUCHED = 'sa-east';
    const FRAMED = 'af-south';
    const AGENTLESS = 'me-central';
    const withheld = new Set([VICTIM, UNVOUCHED]);
    const { audit, fx, activationTick } = await world(
      (fx, activation) => ({
        timestamp: (g, k) =>
          withheld.has(g) && k >= activation
            ? Buffer.from(fx.node.repo.view.timestampAt(activation - 1))
            : undefined,
      }),
      { unvouched: [UNVOUCHED], agentless: [AGENTLESS], unvouchedPerMinute: 300 },
    );
    const post = (body: unknown) =>
      fx.node.app.request('/api/v1/receipts', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    // Sybil framing: five fresh keys replay the pre-release statement for the honest group a minute on.
    const old = {
      request: async () => new Response(fx.node.repo.view.timestampAt(activationTick - 1)),
    };
    for (let i = 0; i < 5; i++) {
      const sybil = new SimAgent(FRAMED, fx.clock);
      await sybil.poll(old);
      await sybil.submit(fx.node.app);
    }
    // Fake coverage: one fresh key for the declared group that has no agents, carrying the release.
    const fake = new SimAgent(AGENTLESS, fx.clock);
    await fake.poll(fx.node.app);
    await fake.submit(fx.node.app);
    // Junk at volume: fresh keys by the thousand; the unvouched pool refuses most of them.
    const junk = await Promise.all(
      Array.from({ length: 40 }, async () => {
        const agents = Array.from({ length: 50 }, () => new SimAgent('eu-west', fx.clock));
        for (const a of agents) await a.poll(old);
        const batches = agents.map((a) => a.batch());
        return (
          await post({
            documents: Object.assign({}, ...batches.map((b) => b.documents)),
            receipts: batches.flatMap((b) => b.receipts),
          })
        ).status;
      }),
    );
    expect(junk).toContain(429);
    await fx.node.sequencer.idle();

    const outcome = await audit();
    const report = outcome.report!;
    expect(outcome.exitCode).toBe(1);
    expect(convicted(outcome)).toEqual([VICTIM]);
    expect(kinds(outcome, VICTIM)).toContain('testimony:served-without-release');
    const unverified = [
      ...new Set(report.findings.filter((f) => f.class === 'cannot-verify').map((f) => f.group)),
    ].sort();
    expect(unverified).toEqual([AGENTLESS, UNVOUCHED].sort());
    // The unvouched group's own testimony is reported, with its keys counted, and convicts no one.
    const unvouchedClaim = report.findings.find(
      (f) => f.kind === 'served-without-release' && f.group === UNVOUCHED,
    );
    expect(unvouchedClaim).toMatchObject({ class: 'testimony', unfair: false });
    expect(unvouchedClaim!.evidence).toMatchObject({ vouched_keys: 0, unvouched_keys: PER_GROUP });
    // Nothing against the honest groups, the framed one included.
    for (const g of ['eu-west', 'us-east', FRAMED])
      expect(
        report.findings.filter((f) => f.group === g && (f.unfair || f.class === 'cannot-verify')),
      ).toEqual([]);
    expect(report.owners[FRAMED]).toMatchObject({ vouchedAgents: PER_GROUP });
  });
});
