import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditOutcome } from '../../src/audit/run.js';
import { tickAt } from '../../src/common/tick.js';
import { reportLines } from '../../src/audit/text.js';
import { GroupOwners } from '../helpers/owners.js';
import { type Fixture, SECOND, listen } from '../helpers/repo.js';
import { until } from '../helpers/until.js';
import {
  HOUR,
  THREE_STAGES,
  auditStaged,
  rolloutAgent,
  saltReady,
  stagedRelease,
} from './staged-setup.js';

// The developer's world: five groups of forty agents, every key vouched by its group's owner, a
// three-stage plan (10 %, 50 % after an hour, everyone after two), a real node over HTTP with a
// witness, the clock moved by hand, and the node restarted between stages. Real agents decide their
// own eligibility; the auditor recomputes it and checks each group against the plan.

const GROUPS = ['eu-west', 'us-east', 'ap-south', 'sa-east', 'af-south'];
const PER_GROUP = 40;
const VICTIM = 'ap-south';

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

interface Edge {
  /** What the edge answers instead, for the victim's requests at tick k (undefined: the real node). */
  victim?: (path: string) => Response | undefined;
}

/** The fleet: whether every install fails (the plan then pauses on 5), whether owners vouch for it. */
interface Fleet {
  failing?: boolean;
  unvouched?: boolean;
}

async function world(
  makeEdge: (fx: Fixture, releaseAt: number) => Edge = () => ({}),
  fleet: Fleet = {},
) {
  const owners = new GroupOwners(GROUPS, () => Date.now());
  const s = await stagedRelease(cleanup, {
    rollout: {
      stages: THREE_STAGES,
      ...(fleet.failing ? { pause_on: { failures: 5 } } : {}),
    },
    owners: { groups: GROUPS, owners },
  });
  const { fx, releaseAt } = s;
  const edge = makeEdge(fx, releaseAt);
  /** Requests the node refused as malformed (400): an honest fleet sends none. */
  const refused: string[] = [];
  // Two doors to the same node: every group's, and the one the victim's agents are sent to.
  const door = (victim: boolean) => {
    const app = new Hono();
    app.all('*', async (c) => {
      const forged = victim ? edge.victim?.(new URL(c.req.url).pathname) : undefined;
      if (forged) return forged;
      const r = await s.node.app.fetch(c.req.raw);
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
    Array.from({ length: PER_GROUP }, () => ({
      group,
      agent: rolloutAgent(s, {
        group,
        lines,
        ...(fleet.unvouched ? {} : { owners }),
        ...(fleet.failing ? { install: 'exit 3' } : {}),
        server: group === VICTIM ? victimDoor.url : honest.url,
      }),
    })),
  );

  // Every agent polls once before the release, so its certificate is logged before the salt
  // exists: parity counts only such keys (an owner could grind keys enrolled later).
  for (let i = 0; i < agents.length; i += 40)
    await Promise.all(agents.slice(i, i + 40).map((a) => a.agent.cycle()));
  await s.node.sequencer.idle();

  return {
    fx,
    agents,
    lines,
    refused,
    releaseAt,
    node: () => s.node,
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
      await s.node.evidence.activations();
      if (restart) await s.restart();
    },
    saltReady: () => saltReady(s),
    audit: () => auditStaged(s, honest.url),
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

  it.each([
    [
      'vouched agents failing at stage 1 pause the rollout: stage 2 held for every group; the audit agrees',
      false,
    ],
    ['as many failures from keys no one vouches for pause nothing: stage 2 opens on time', true],
  ])(
    '%s',
    async (_title, unvouched) => {
      const wd = await world(undefined, { failing: true, unvouched });
      await wd.moveTo(wd.releaseAt, false);
      await wd.saltReady();
      const first = await wd.poll();
      const failed = Object.values(first)
        .flat()
        .filter((o) => o === 'install-failed').length;
      expect(failed).toBeGreaterThanOrEqual(5);
      // An hour on, the node restarted: stage 2 is due.
      await wd.moveTo(wd.releaseAt + HOUR + SECOND, true);
      await wd.poll();
      const signed = new Set(
        wd.agents.map((a) => a.agent.receipts.all().at(-1)!.signed.observation.rollout?.stage),
      );
      expect(signed).toEqual(new Set([unvouched ? 1 : 0]));
      if (unvouched) return;
      const outcome = await wd.audit();
      expect(rolloutFindings(outcome)).toEqual([]);
      const rollout = outcome.report!.releases.find((r) => r.rollout)!.rollout!;
      expect(rollout.stages.map((st) => st.stage)).toEqual([0]);
    },
    300_000,
  );
});
