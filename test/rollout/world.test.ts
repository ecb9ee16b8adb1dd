import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { installEnrollment } from '../../src/agent/enrollment-file.js';
import { type AuditOutcome, runAudit } from '../../src/audit/run.js';
import { tickAt } from '../../src/common/tick.js';
import { reportLines } from '../../src/audit/text.js';
import { parseVerifierKey } from '../../src/log/note.js';
import { createNode } from '../../src/server/node.js';
import { GroupOwners } from '../helpers/owners.js';
import {
  type Fixture,
  MINUTE,
  NO_RATE_LIMITS,
  SECOND,
  createFixture,
  listen,
  readRoot,
} from '../helpers/repo.js';
import { until } from '../helpers/until.js';
import { startWitness } from '../helpers/witness.js';

// The developer's world: five groups of forty agents, every key vouched by its group's owner, a
// three-stage plan (10 %, 50 % after an hour, everyone after two), a real node over HTTP with a
// witness, the clock moved by hand, and the node restarted between stages. Real agents decide their
// own eligibility; the auditor recomputes it and checks each group against the plan.

const GROUPS = ['eu-west', 'us-east', 'ap-south', 'sa-east', 'af-south'];
const PER_GROUP = 40;
const VICTIM = 'ap-south';
const HOUR = 60 * MINUTE;

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

interface Edge {
  /** What the edge answers instead, for the victim's requests at tick k (undefined: the real node). */
  victim?: (path: string) => Response | undefined;
}

async function world(makeEdge: (fx: Fixture, releaseAt: number) => Edge = () => ({})) {
  const fx = await createFixture();
  cleanup.push(() => fx.close());
  const logKey = fx.node.logVerifierKey;
  const w = await startWitness(fx.keysDir, fx.clock, {
    logs: [{ url: 'unused', verifier: parseVerifierKey(logKey) }],
  });
  cleanup.push(() => w.close());
  // Nodes this world starts and stops itself: a restart closes one and opens the next on the same data.
  const open = () =>
    createNode({
      dataDir: fx.dataDir,
      keysDir: fx.keysDir,
      clock: fx.clock,
      ...NO_RATE_LIMITS,
      witnesses: [w.url],
    });
  let node = await open();
  cleanup.push(() => node.close());
  const owners = new GroupOwners(GROUPS, () => fx.clock.now());
  await node.appDeps.declareGroups!(GROUPS, owners.owners);
  await fx.addVendor('acme');
  const artifact = await fx.artifact('acme-agent-2.4.1.sh', '#!/bin/sh\necho patched\n');
  const releaseAt = fx.clock.now() + MINUTE;
  await node.repo.stageVendorMetadata(
    'acme',
    await fx.release(
      'acme',
      {
        applies_to: '<2.4.1',
        rollout: {
          stages: [
            { percent: 10, after: '0s' },
            { percent: 50, after: '1h' },
            { percent: 100, after: '2h' },
          ],
        },
      },
      [artifact],
      releaseAt,
    ),
  );
  const edge = makeEdge(fx, releaseAt);
  /** Requests the node refused as malformed (400): an honest fleet sends none. */
  const refused: string[] = [];
  // Two doors to the same node: every group's, and the one the victim's agents are sent to.
  const door = (victim: boolean) => {
    const app = new Hono();
    app.all('*', async (c) => {
      const forged = victim ? edge.victim?.(new URL(c.req.url).pathname) : undefined;
      if (forged) return forged;
      const r = await node.app.fetch(c.req.raw);
      if (r.status === 400) refused.push(await r.clone().text());
      return r;
    });
    return app;
  };
  const honest = await listen(door(false));
  const victimDoor = await listen(door(true));
  cleanup.push(
    () => honest.close(),
    () => victimDoor.close(),
  );

  const lines: string[] = [];
  const agents = GROUPS.flatMap((group) =>
    Array.from({ length: PER_GROUP }, () => {
      const stateDir = mkdtempSync(join(tmpdir(), 'fp-world-agent-'));
      const agent = new Agent(
        {
          server: group === VICTIM ? victimDoor.url : honest.url,
          group,
          root: join(fx.keysDir, '1.root.json'),
          stateDir,
          vendor: 'acme',
          product: 'acme-agent',
          platform: 'linux-x64',
          currentVersion: '2.3.0',
          channel: 'stable',
          intervalMs: 10 * SECOND,
          checkpoint: { logKey, witnesses: [w.witness.verifierKey], threshold: 1, everyMs: HOUR },
        },
        {
          clock: fx.clock,
          log: (l) => lines.push(l),
          fetcher: { attempts: 1, backoffMs: 1, timeoutMs: 5000 },
        },
      );
      installEnrollment(stateDir, JSON.stringify(owners.certify(group, agent.identity.publicKey)), {
        publicKey: agent.identity.publicKey,
        group,
      });
      return { group, agent };
    }),
  );

  return {
    fx,
    agents,
    lines,
    refused,
    releaseAt,
    node: () => node,
    /** Every agent (or those `which` picks) polls once, in turns of 40 at a time. */
    async poll(which: (group: string) => boolean = () => true) {
      const chosen = agents.filter((a) => which(a.group));
      const outcomes: Record<string, string[]> = {};
      for (let i = 0; i < chosen.length; i += 40)
        for (const [j, r] of (
          await Promise.all(chosen.slice(i, i + 40).map((a) => a.agent.cycle()))
        ).entries())
          (outcomes[chosen[i + j]!.group] ??= []).push(r.outcome);
      return outcomes;
    },
    /** The clock moves to `at`; the node logs what activated and is then restarted. */
    async moveTo(at: number, restart: boolean) {
      fx.clock.set(at);
      await node.evidence.activations();
      if (!restart) return;
      await node.sequencer.idle();
      const old = node;
      node = await open();
      await old.close();
    },
    async saltReady() {
      await until('a checkpoint holding the activation is cosigned', async () => {
        const r = await node.app.request('/log/rollout-salt?target=acme%2Facme-agent-2.4.1.sh');
        if (r.status !== 200) return undefined;
        const body = (await r.json()) as { checkpoints: Array<{ note: string }> };
        return body.checkpoints.some((c) => c.note.includes('\u2014 witness/')) ? true : undefined;
      });
    },
    async audit(): Promise<AuditOutcome> {
      await node.evidence.rollup();
      await node.sequencer.idle();
      // A witnessed node serves the newest cosigned checkpoint: the audit reads the log up to it.
      const { size } = await node.log.head();
      await until('the whole log is cosigned', async () => {
        const note = await (await node.app.request('/log/checkpoint')).text();
        return Number(note.split('\n')[1]) === size ? true : undefined;
      });
      return runAudit({
        server: honest.url,
        stateDir: mkdtempSync(join(tmpdir(), 'fp-world-audit-')),
        logKey,
        root: readRoot(fx.keysDir),
        now: fx.clock.now(),
        cosigners: { keys: [w.witness.verifierKey], threshold: 1 },
        witnessLogs: [{ url: w.url, vkey: w.witness.verifierKey }],
      });
    },
  };
}

type World = Awaited<ReturnType<typeof world>>;

/** The three stages: each agent polls at the opening of each, the node restarted between them. */
async function runStages(wd: World, victimFrom = 0): Promise<Array<Record<string, string[]>>> {
  const out: Array<Record<string, string[]>> = [];
  for (const [i, delay] of [0, HOUR, 2 * HOUR].entries()) {
    await wd.moveTo(wd.releaseAt + delay + i * SECOND, i > 0);
    if (i === 0) await wd.saltReady();
    out.push(await wd.poll((g) => g !== VICTIM || i >= victimFrom));
  }
  return out;
}

const rolloutFindings = (outcome: AuditOutcome) =>
  outcome.report!.findings.filter((f) => f.kind.startsWith('rollout-') || f.unfair);

describe('a staged rollout, five groups of forty vouched agents', () => {
  it('honest: every group within the plan at every stage, everyone patched at the end, FAIR', async () => {
    const wd = await world();
    const stages = await runStages(wd);
    // Everyone is patched by the last stage, whatever the stage it came in at.
    const installed = (g: string) =>
      stages.reduce((n, s) => n + (s[g] ?? []).filter((o) => o === 'installed').length, 0);
    for (const g of GROUPS) expect(installed(g), g).toBe(PER_GROUP);
    const outcome = await wd.audit();
    // Every receipt and report the agents sent was taken (none refused as malformed).
    expect(wd.refused).toEqual([]);
    expect(rolloutFindings(outcome)).toEqual([]);
    expect(
      outcome.report!.findings.filter((f) => f.class === 'cannot-verify').map((f) => f.message),
    ).toEqual([]);
    expect(outcome.report!.verdict).toBe('FAIR');
    const rollout = outcome.report!.releases.find((r) => r.rollout)!.rollout!;
    expect(rollout).toMatchObject({
      release: 'acme/acme-agent@2.4.1',
      plan: '10% at +0s, 50% at +1h, 100% at +2h',
      salt: { witnesses: ['witness/w1'], operatorChosen: false },
    });
    expect(rollout.stages.map((s) => s.percent_bp)).toEqual([1000, 5000, 10000]);
    for (const [i, stage] of rollout.stages.entries())
      for (const g of GROUPS) {
        const row = stage.groups[g]!;
        expect(row, `${g} stage ${i}`).toMatchObject({ agents: PER_GROUP, within: true });
        // Agents patched at an earlier stage weigh nothing more: those that signed they were
        // eligible at this stage, and installed, are exactly the newly eligible ones the auditor
        // recomputes.
        const newly = row.eligible! - (i === 0 ? 0 : rollout.stages[i - 1]!.groups[g]!.eligible!);
        expect(row.claimedEligible, `${g} stage ${i}`).toBe(newly);
        expect((stages[i]![g] ?? []).filter((o) => o === 'installed').length).toBe(newly);
        expect(row, `${g} stage ${i}`).toMatchObject({ installed: newly, failed: 0 });
      }
    // The report as `fairpatch audit` prints it, and as the node's dashboard shows it.
    const text = reportLines(outcome.report!).join('\n');
    expect(text).toMatch(
      /staged acme\/acme-agent@2\.4\.1: 10% at \+0s, 50% at \+1h, 100% at \+2h; salt from checkpoint \d+, cosigned by witness\/w1/,
    );
    expect(text).toMatch(
      /stage 2 \(50%, tick \d+\) eu-west: \d+ of 40 vouched agents eligible \(20\.0 expected\), \d+ signed eligible, \d+ installed, 0 failed; within 4σ/,
    );
    const page = await until('the dashboard shows the staged rollout', async () => {
      const r = await wd.node().app.request('/');
      const html = r.status === 200 ? await r.text() : '';
      return html.includes('data-rollout') && html.includes('cosigned by') ? html : undefined;
    });
    expect(page.match(/<tr data-stage="\d" data-group="[a-z-]+">/g)).toHaveLength(15);
  }, 300_000);

  it('a group denied its draw at stage 2 (the salt withheld from its door) is UNFAIR, on vouched testimony', async () => {
    const wd = await world((fx, releaseAt) => ({
      victim: (path) =>
        path === '/log/rollout-salt' && fx.clock.now() >= releaseAt + HOUR
          ? new Response(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'no' } }), {
              status: 404,
            })
          : undefined,
    }));
    // The victim's machines were off at stage 1: at stage 2 they need the salt, and their door hides it.
    await runStages(wd, 1);
    const outcome = await wd.audit();
    expect(outcome.report!.verdict).toBe('UNFAIR');
    const unfair = outcome.report!.findings.filter((f) => f.unfair);
    expect(unfair.map((f) => [f.kind, f.group])).toEqual([['rollout-denied', VICTIM]]);
    expect(unfair[0]!.class).toBe('testimony');
  }, 300_000);

  it('an operator who serves one group an earlier stage is caught', async () => {
    let stage1Bytes: ArrayBuffer | undefined;
    const wd = await world((fx, releaseAt) => ({
      victim: (path) => {
        if (!path.endsWith('/metadata/timestamp.json')) return undefined;
        if (fx.clock.now() < releaseAt + HOUR) return undefined;
        // From stage 2 on, the victim keeps being served the last statement of stage 1.
        return new Response(stage1Bytes, { headers: { 'content-type': 'application/json' } });
      },
    }));
    await wd.moveTo(wd.releaseAt, false);
    await wd.saltReady();
    await wd.poll();
    // The last tick of stage 1, as the node signed it.
    wd.fx.clock.set(wd.releaseAt + HOUR - SECOND);
    stage1Bytes = await (await wd.node().app.request('/metadata/timestamp.json')).arrayBuffer();
    // Polled half a minute into stage 2: beyond the staleness tolerance, so no excuse of a slow edge.
    await wd.moveTo(wd.releaseAt + HOUR + 30 * SECOND, true);
    await wd.poll();
    const outcome = await wd.audit();
    expect(outcome.report!.verdict).toBe('UNFAIR');
    const against = outcome.report!.findings.filter((f) => f.unfair);
    expect(new Set(against.map((f) => f.group))).toEqual(new Set([VICTIM]));
    expect(against.map((f) => f.kind)).toContain('rollout-stage-behind');
  }, 300_000);

  it('an operator who favours one group with a later stage is caught', async () => {
    let future: Buffer | undefined;
    const wd = await world(() => ({
      // The favoured door serves the statement the node will sign an hour on, at stage 2.
      victim: (path) =>
        path.endsWith('/metadata/timestamp.json') && future
          ? new Response(new Uint8Array(future), {
              headers: { 'content-type': 'application/json' },
            })
          : undefined,
    }));
    await wd.moveTo(wd.releaseAt, false);
    await wd.saltReady();
    const node = wd.node();
    future = node.repo.view.timestampAt(tickAt(node.repo.config, wd.releaseAt + HOUR));
    await wd.poll();
    const outcome = await wd.audit();
    expect(outcome.report!.verdict).toBe('UNFAIR');
    const against = outcome.report!.findings.filter((f) => f.unfair);
    expect(new Set(against.map((f) => f.group))).toEqual(new Set([VICTIM]));
    expect(against.map((f) => f.kind)).toContain('rollout-stage-ahead');
  }, 300_000);
});
