import { afterEach, describe, expect, it } from 'vitest';
import { tickAt } from '../../src/common/tick.js';
import { PublisherClient, rolloutAction } from '../../src/publish/client.js';
import { GroupOwners } from '../helpers/owners.js';
import { MINUTE, SECOND } from '../helpers/repo.js';
import {
  HOUR,
  THREE_STAGES,
  auditStaged,
  rolloutAgent,
  saltReady,
  stagedRelease,
} from './staged-setup.js';

// Pause, resume and advance: the vendor signs each as a control target of its own metadata, so it
// is logged (commitment, then activation) and goes live at one tick for every group. Agents and the
// auditor replay the same actions over the signed plan and agree on every stage's tick.

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const GROUP = 'eu-west';

describe('a vendor pauses, resumes and advances its staged release', () => {
  it('holds the next stage while paused, resumes with the time left, advances at one tick; the audit agrees', async () => {
    const owners = new GroupOwners([GROUP], () => Date.now());
    const s = await stagedRelease(cleanup, {
      rollout: {
        stages: THREE_STAGES,
      },
      owners: { groups: [GROUP], owners },
    });
    const { fx, node, releaseAt: T0 } = s;
    const { key } = s.vendor;
    const vendor = new PublisherClient(s.url, s.vendor.token);
    const lines: string[] = [];
    const agents = Array.from({ length: 30 }, () =>
      rolloutAgent(s, { group: GROUP, lines, owners }),
    );
    const at = async (ms: number) => {
      fx.clock.set(ms);
      await node.evidence.activations();
    };
    const act = async (action: 'pause' | 'resume' | 'advance', effective: number) => {
      await at(effective - MINUTE);
      await rolloutAction({
        vendor: 'acme',
        product: 'acme-agent',
        version: '2.4.1',
        action,
        releaseAt: effective,
        client: vendor,
        vendorKey: key,
        now: () => fx.clock.now(),
      });
      await at(effective);
    };
    const stagesSigned = async () => {
      await Promise.all(agents.map((a) => a.cycle()));
      return new Set(agents.map((a) => a.receipts.all().at(-1)!.signed.observation.rollout?.stage));
    };

    await at(T0);
    await saltReady(s);
    expect(await stagesSigned()).toEqual(new Set([0]));

    await act('pause', T0 + 30 * MINUTE);
    // An hour in, stage 2 would have opened; paused, everyone is still at stage 1.
    await at(T0 + HOUR + SECOND);
    const paused = await stagesSigned();
    expect([...paused].filter((s) => s !== undefined)).toEqual([0]);
    expect(lines.some((l) => /the vendor paused the rollout/.test(l))).toBe(true);

    // Resumed at 90 min, with the 30 min that were left: stage 2 opens at 2 h, not before.
    await act('resume', T0 + 90 * MINUTE);
    await at(T0 + 2 * HOUR - SECOND);
    expect([...(await stagesSigned())].filter((s) => s !== undefined)).toEqual([0]);
    await at(T0 + 2 * HOUR);
    expect([...(await stagesSigned())].filter((s) => s !== undefined)).toEqual([1]);

    // Advanced at 2 h 30: everyone is in at that tick, half an hour before the plan's time.
    await act('advance', T0 + 150 * MINUTE);
    await Promise.all(agents.map((a) => a.cycle()));
    expect(agents.every((a) => a.installed()?.version === '2.4.1')).toBe(true);

    // The auditor replays the same signed actions: the same stage ticks, nobody behind, FAIR.
    const outcome = await auditStaged(s);
    const tick = (ms: number) => tickAt(node.repo.config, ms);
    const rollout = outcome.report!.releases.find((r) => r.rollout)!.rollout!;
    expect(rollout.stages.map((s) => s.tick)).toEqual([
      tick(T0),
      tick(T0 + 2 * HOUR),
      tick(T0 + 150 * MINUTE),
    ]);
    expect(outcome.report!.findings.filter((f) => f.kind.startsWith('rollout-'))).toEqual([]);
    expect(outcome.report!.verdict).toBe('FAIR');
  }, 120_000);
});
