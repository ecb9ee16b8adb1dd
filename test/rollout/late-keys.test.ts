import { afterEach, describe, expect, it } from 'vitest';
import { reportLines } from '../../src/audit/text.js';
import { GroupOwners } from '../helpers/owners.js';
import { SimAgent, overHttp } from '../helpers/receipts.js';
import { SECOND } from '../helpers/repo.js';
import { auditStaged, saltReady, stagedRelease, twoStages } from './staged-setup.js';

// Keys enrolled after the salt was known: an owner who knows the salt can grind agent keys until
// their cohorts fall in the early share and enroll those. Parity counts only the vouched keys whose
// certificate the log held before the salt's checkpoint; the report says how many it left out.

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const GROUP = 'eu-west';

describe('parity of a staged release and keys enrolled late', () => {
  it('counts only keys logged before the salt, and says how many came after', async () => {
    const owners = new GroupOwners([GROUP], () => Date.now());
    const s = await stagedRelease(cleanup, {
      rollout: {
        stages: twoStages(10),
      },
      owners: { groups: [GROUP], owners },
    });
    const http = overHttp(s.url);
    const enrolled = async (n: number) => {
      const agents = Array.from({ length: n }, () =>
        new SimAgent(GROUP, s.fx.clock).enrolledBy(owners),
      );
      for (const a of agents) {
        await a.poll(http);
        await a.submit(http);
      }
      await s.node.sequencer.idle();
    };
    // Six keys enrolled (their certificates logged) before the release.
    s.fx.clock.set(s.releaseAt - 30 * SECOND);
    await enrolled(6);
    s.fx.clock.set(s.releaseAt);
    await s.node.evidence.activations();
    await saltReady(s);
    // Four more, enrolled once anyone could read the salt.
    s.fx.clock.set(s.releaseAt + 10 * SECOND);
    await enrolled(4);

    const outcome = await auditStaged(s);
    const rollout = outcome.report!.releases.find((r) => r.rollout)!.rollout!;
    expect(rollout.salt).toMatchObject({ operatorChosen: false });
    expect(rollout.stages[0]!.groups[GROUP]).toMatchObject({ agents: 6, late: 4 });
    expect(reportLines(outcome.report!).join('\n')).toMatch(
      /stage 1 \(10%, tick \d+\) eu-west: \d+ of 6 vouched agents eligible .*; 4 enrolled after the salt, not counted/,
    );
  }, 120_000);
});
