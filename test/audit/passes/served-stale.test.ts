import { describe, expect, it } from 'vitest';
import { servedStale } from '../../../src/audit/fairness.js';
import { agent, observe, options, receipt, tickStart, timestamp, timestampRole } from './build.js';

const role = timestampRole();
const doc = timestamp(role.key, 5, 6);
const MAX_LAG = 10_000;
const agents = [agent(), agent(), agent()];

/** Each agent still served tick 5's statement `lag` ms after tick 5 started. */
function stale(lag: number, group = 'eu', who = agents) {
  return observe(
    role.keys,
    [doc],
    who.map((a) => receipt(a, doc, { group, firstAt: tickStart(5), lastAt: tickStart(5) + lag })),
  ).seen;
}

const judge = (seen: ReturnType<typeof stale>) =>
  servedStale(seen, options({ maxLagMs: MAX_LAG }), tickStart, () => 3);

describe('servedStale', () => {
  it('served for exactly --max-lag after its tick: within the tolerance, nothing', () => {
    expect(judge(stale(MAX_LAG))).toEqual([]);
  });

  it('served-stale (testimony): one ms past --max-lag, by a quorum, convicts', () => {
    const out = judge(stale(MAX_LAG + 1));
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({
      kind: 'served-stale',
      class: 'testimony',
      unfair: true,
      group: 'eu',
      message:
        '3 agents in group eu were served statements more than 10s behind their tick (up to 10s) (3 vouched of a quorum of 3)',
      witnesses: agents.map((a) => a.key).sort(),
      sources: ['log'],
    });
    expect(out[0]).not.toHaveProperty('release');
  });

  it('two agents of a quorum of three: uncorroborated, not a conviction; per group', () => {
    const out = judge([
      ...stale(60_000, 'eu', agents.slice(0, 2)),
      ...stale(60_000, 'us', agents.slice(2)),
    ]);
    expect(out.map((f) => [f.group, f.class, f.unfair, f.witnesses?.length])).toEqual([
      ['eu', 'testimony', false, 2],
      ['us', 'testimony', false, 1],
    ]);
  });
});
