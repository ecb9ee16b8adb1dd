import { afterEach, describe, expect, it } from 'vitest';
import { parseVerifierKey } from '../../src/log/note.js';
import { verifySaltEvidence } from '../../src/rollout/evidence.js';
import { cohort, inShare, releaseId } from '../../src/rollout/lottery.js';
import { until } from '../helpers/until.js';
import { HOUR, rolloutAgent, stagedRelease, twoStages } from './staged-setup.js';

// An agent decides its own eligibility for a staged release from signed bytes: the plan in the
// vendor's metadata, the tick of the served timestamp and the salt it verifies itself. It installs
// when its cohort is in the stage's share, waits otherwise, and signs what it decided into its receipt.

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe('an agent and a staged release', () => {
  it('installs at the stage its cohort falls in, not before, and says so in its receipts', async () => {
    const s = await stagedRelease(cleanup, {
      rollout: {
        stages: twoStages(30),
      },
    });
    const { fx, node, logKey, artifact, releaseAt } = s;
    const lines: string[] = [];
    const agent = (checkpoint: boolean) =>
      rolloutAgent(s, { group: 'eu-west', lines, blind: !checkpoint, attempts: 2 });
    const agents = Array.from({ length: 20 }, () => agent(true));
    const blind = agent(false); // no log key: cannot verify a salt, so waits for the 100 % stage

    fx.clock.set(releaseAt);
    await node.evidence.activations();
    const target = { path: 'acme/acme-agent-2.4.1.sh', sha256: artifact.sha256 };
    const release = releaseId('acme', 'acme-agent', '2.4.1');
    const { salt } = await until('the activation is cosigned', async () => {
      const response = await fetch(
        `${s.url}/log/rollout-salt?target=${encodeURIComponent(target.path)}`,
      );
      if (response.status !== 200) return undefined;
      try {
        return verifySaltEvidence({
          body: await response.json(),
          release,
          target,
          log: parseVerifierKey(logKey),
          witnesses: [parseVerifierKey(s.witness.witness.verifierKey)],
        });
      } catch {
        return undefined;
      }
    });
    const expected = agents.map((a) => inShare(cohort(release, salt, a.identity.publicKey), 3000));

    const first = await Promise.all(agents.map((a) => a.cycle()));
    expect(first.map((r) => r.outcome)).toEqual(
      expected.map((e) => (e ? 'installed' : 'up-to-date')),
    );
    expect(await blind.cycle()).toMatchObject({
      outcome: 'up-to-date',
      reason: expect.stringMatching(
        /stage 1 of 2 \(30%\); the lottery's salt is not available yet/,
      ),
    });
    const waiting = first.find((r) => r.outcome === 'up-to-date');
    expect(waiting).toMatchObject({
      reason: expect.stringMatching(/not in yet; the next stage opens at tick \d+/),
    });
    // Each agent signed what it decided into the run's receipt, and the node took the receipts.
    expect(lines.filter((l) => /not submitted/.test(l))).toEqual([]);
    for (const [i, a] of agents.entries())
      expect(a.receipts.all().at(-1)!.signed.observation.rollout).toMatchObject({
        release,
        stage: 0,
        percent_bp: 3000,
        eligible: expected[i],
      });

    // One hour later everyone is in, at one tick, with or without a log key.
    fx.clock.set(releaseAt + HOUR);
    const second = await Promise.all(agents.map((a) => a.cycle()));
    expect(second.map((r) => r.outcome)).toEqual(
      expected.map((e) => (e ? 'up-to-date' : 'installed')),
    );
    expect(await blind.cycle()).toMatchObject({ outcome: 'installed' });
  });
});
