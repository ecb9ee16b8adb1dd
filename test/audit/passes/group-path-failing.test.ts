import { describe, expect, it } from 'vitest';
import { groupPathFailing } from '../../../src/audit/fairness.js';
import { agent, observe, receipt, tickStart, timestamp, timestampRole } from './build.js';

const role = timestampRole();
const doc = timestamp(role.key, 5, 6);
const agents = [agent(), agent(), agent()];

/** Each agent in `group` got tick 5's statement through the plain path after `failed` did not answer. */
function seen(group: string, failed: string[], who = agents) {
  return observe(
    role.keys,
    [doc],
    who.map((a) =>
      receipt(a, doc, {
        group,
        firstAt: tickStart(5),
        via: '/metadata/timestamp.json',
        pathFailures: failed,
      }),
    ),
  ).seen;
}

const judge = (list: ReturnType<typeof seen>) => groupPathFailing(list, () => 3);

describe('groupPathFailing', () => {
  it("no path failed, or only a path that is not the group's own: nothing", () => {
    expect(judge(seen('eu', []))).toEqual([]);
    expect(judge(seen('eu', ['https://mirror.example/metadata/timestamp.json']))).toEqual([]);
    // Another group's path failing is not this group's outage.
    expect(judge(seen('eu', ['/g/us/metadata/timestamp.json']))).toEqual([]);
  });

  it("group-path-failing (testimony): the group's own path failed for a quorum of its agents", () => {
    const out = judge(seen('eu', ['/g/eu/metadata/timestamp.json']));
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({
      kind: 'group-path-failing',
      class: 'testimony',
      unfair: true,
      group: 'eu',
      message:
        "3 agents in group eu found the group's own path failing while another path answered (3 vouched of a quorum of 3)",
      witnesses: agents.map((a) => a.key).sort(),
    });
  });

  it('one agent short of the quorum: uncorroborated', () => {
    const out = judge(seen('eu', ['/g/eu/metadata/timestamp.json'], agents.slice(1)));
    expect(out.map((f) => [f.kind, f.unfair])).toEqual([['group-path-failing', false]]);
  });
});
