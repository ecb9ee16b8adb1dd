import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { type SignedInstallReport, signInstallReport } from '../../src/common/install-report.js';
import { tickAt } from '../../src/common/tick.js';
import { parseVerifierKey } from '../../src/log/note.js';
import { verifyPauseEvidence } from '../../src/rollout/pause-evidence.js';
import { GroupOwners } from '../helpers/owners.js';
import { SimAgent, overHttp } from '../helpers/receipts.js';
import { SECOND, listen } from '../helpers/repo.js';
import {
  HOUR,
  THREE_STAGES,
  auditStaged,
  rolloutAgent,
  saltReady,
  stagedRelease,
  twoStages,
} from './staged-setup.js';

// The automatic pause: agent-signed failure reports of a staged release, from keys an owner vouched
// for, reach the plan's `pause_on.failures` and the node logs a pause with those reports, effective
// at one tick for every group. As many reports from keys no one vouches for pause nothing. Agents
// replay the logged pause; the auditor recounts its reports and convicts a pause they do not justify.

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const GROUP = 'eu-west';
const RELEASE = 'acme/acme-agent@2.4.1';

async function pausingRelease() {
  const owners = new GroupOwners([GROUP], () => Date.now());
  const s = await stagedRelease(cleanup, {
    rollout: {
      stages: THREE_STAGES,
      pause_on: { failures: 3 },
    },
    owners: { groups: [GROUP], owners },
  });
  s.fx.clock.set(s.releaseAt);
  await s.node.evidence.activations();
  const http = overHttp(s.url);
  /** A simulated agent that polled and sent its receipts (with its certificate, if vouched). */
  const simAgent = async (vouched: boolean) => {
    const a = new SimAgent(GROUP, s.fx.clock);
    if (vouched) a.enrolledBy(owners);
    await a.poll(http);
    await a.submit(http);
    return a;
  };
  const failure = (a: SimAgent, atMs = s.fx.clock.now()): SignedInstallReport =>
    signInstallReport(
      {
        v: 1,
        agent: a.publicKey,
        group: GROUP,
        product: 'acme-agent',
        version: '2.4.1',
        outcome: 'failed',
        at: new Date(atMs).toISOString(),
      },
      a.seed,
    );
  const report = async (signed: SignedInstallReport) => {
    const r = await fetch(`${s.url}/api/v1/reports`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(signed),
    });
    expect(r.status).toBe(201);
  };
  const pauses = async () => {
    await s.node.sequencer.idle();
    const r = await fetch(`${s.url}/log/rollout-pauses?release=${encodeURIComponent(RELEASE)}`);
    expect(r.status).toBe(200);
    return verifyPauseEvidence({
      body: await r.json(),
      release: RELEASE,
      log: parseVerifierKey(s.logKey),
    });
  };
  return { s, owners, simAgent, failure, report, pauses };
}

describe('the automatic pause of a staged release', () => {
  it('fires on the threshold of vouched failures, not on as many unvouched; agents and the audit replay it', async () => {
    const { s, simAgent, failure, report, pauses } = await pausingRelease();
    // Three failures signed by keys no one vouches for: the plan's threshold, and nothing pauses.
    for (const a of await Promise.all([1, 2, 3].map(() => simAgent(false))))
      await report(failure(a));
    expect(await pauses()).toEqual([]);
    // Two vouched keys, one of them reporting twice: two keys, still short of three.
    const vouched = await Promise.all([1, 2, 3].map(() => simAgent(true)));
    await report(failure(vouched[0]!));
    await report(failure(vouched[0]!, s.fx.clock.now() - SECOND));
    await report(failure(vouched[1]!));
    expect(await pauses()).toEqual([]);
    // The third vouched key: paused from the next tick, for everyone.
    await report(failure(vouched[2]!));
    const tick = tickAt(s.node.repo.config, s.fx.clock.now()) + 1;
    expect(await pauses()).toEqual([{ action: 'pause', tick }]);

    // An hour on, stage 2 would be open; a real agent replays the pause and stays at stage 1.
    s.fx.clock.set(s.releaseAt + HOUR + 30 * SECOND);
    await saltReady(s);
    const lines: string[] = [];
    const agent = rolloutAgent(s, { group: GROUP, lines });
    await agent.cycle();
    expect(agent.receipts.all().at(-1)!.signed.observation.rollout).toMatchObject({
      release: RELEASE,
      stage: 0,
    });

    const outcome = await auditStaged(s);
    const findings = outcome.report!.findings.filter((f) => f.kind.startsWith('rollout-'));
    expect(findings.filter((f) => f.unfair)).toEqual([]);
    const rollout = outcome.report!.releases.find((r) => r.rollout)!.rollout!;
    expect(rollout.stages.map((st) => st.stage)).toEqual([0]);
  }, 120_000);

  it('the audit convicts a pause its reports do not justify (too few vouched), from the log alone', async () => {
    const { s, simAgent, failure } = await pausingRelease();
    const vouched = await Promise.all([1, 2].map(() => simAgent(true)));
    const stranger = await simAgent(false);
    // The operator logs a pause on two vouched failures and one no one vouches for.
    const index = await s.node.evidence.autoPaused({
      type: 'rollout.auto-paused',
      v: 1,
      release: RELEASE,
      vendor: 'acme',
      tick: tickAt(s.node.repo.config, s.fx.clock.now()) + 1,
      threshold: 3,
      reports: [failure(vouched[0]!), failure(vouched[1]!), failure(stranger)],
    });
    const outcome = await auditStaged(s);
    const found = outcome.report!.findings.filter(
      (f) => f.kind === 'rollout-auto-pause-unjustified',
    );
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      class: 'proof',
      unfair: true,
      evidence: { leaf: index, counted: 2, rejected: 1, threshold: 3 },
    });
    expect(outcome.report!.verdict).toBe('UNFAIR');
  }, 120_000);

  it.each([
    [
      'real agents whose install fails pause it themselves, and the audit finds nothing to say',
      false,
    ],
    [
      "an operator who swallows the failing agents' reports is flagged: the threshold signed, no pause",
      true,
    ],
  ])(
    '%s',
    async (_title, swallowed) => {
      const owners = new GroupOwners([GROUP], () => Date.now());
      const s = await stagedRelease(cleanup, {
        rollout: {
          stages: twoStages(50),
          pause_on: { failures: 3 },
        },
        owners: { groups: [GROUP], owners },
      });
      // The agents' door: the operator may answer their reports without counting them.
      const door = new Hono();
      /** Whether each report the agents posted carried their owner's certificate. */
      const certified: boolean[] = [];
      door.all('*', async (c) => {
        const isReport = c.req.method === 'POST' && c.req.path === '/api/v1/reports';
        if (isReport) certified.push('enrollment' in ((await c.req.raw.clone().json()) as object));
        return swallowed && isReport ? c.json({ counted: true }, 201) : s.node.app.fetch(c.req.raw);
      });
      const http = await listen(door);
      cleanup.push(() => http.close());
      const lines: string[] = [];
      const agents = Array.from({ length: 20 }, () =>
        rolloutAgent(s, { group: GROUP, lines, owners, server: http.url, install: 'exit 3' }),
      );
      // Enrolled before the release, then each tries at stage 1: about half fail, signed.
      await Promise.all(agents.map((a) => a.cycle()));
      s.fx.clock.set(s.releaseAt);
      await s.node.evidence.activations();
      await saltReady(s);
      const outcomes = await Promise.all(agents.map((a) => a.cycle()));
      expect(outcomes.filter((o) => o.outcome === 'install-failed').length).toBeGreaterThanOrEqual(
        3,
      );
      // Each carries the certificate: a node that never saw the agent's receipts knows it is vouched.
      expect(certified.length).toBeGreaterThanOrEqual(3);
      expect(certified.every(Boolean)).toBe(true);
      await s.node.sequencer.idle();
      const r = await fetch(`${s.url}/log/rollout-pauses?release=${encodeURIComponent(RELEASE)}`);
      const paused = verifyPauseEvidence({
        body: await r.json(),
        release: RELEASE,
        log: parseVerifierKey(s.logKey),
      });
      expect(paused).toHaveLength(swallowed ? 0 : 1);
      const outcome = await auditStaged(s);
      const kinds = outcome
        .report!.findings.filter((f) => f.kind.startsWith('rollout-auto-pause'))
        .map((f) => [f.kind, f.unfair]);
      expect(kinds).toEqual(swallowed ? [['rollout-auto-pause-missing', true]] : []);
    },
    120_000,
  );
});
