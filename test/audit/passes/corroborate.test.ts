import { describe, expect, it } from 'vitest';
import { corroborate } from '../../../src/audit/testimony.js';
import {
  type Agent,
  agent,
  iso,
  observe,
  options,
  receipt,
  tickStart,
  timestamp,
  timestampRole,
} from './build.js';

const role = timestampRole();
const doc = timestamp(role.key, 5, 6);
const agents = [agent(), agent(), agent()];
const firstAt = tickStart(5);

/** One signed run per (agent, via); the same agent through several paths is still one witness. */
function testimonyOf(runs: Array<[Agent, string]>) {
  return observe(
    role.keys,
    [doc],
    runs.map(([who, via]) => receipt(who, doc, { group: 'eu', firstAt, via })),
  ).seen;
}

const judge = (list: ReturnType<typeof testimonyOf>, quorum = 3, pinned = {}) =>
  corroborate({
    kind: 'served-stale',
    group: 'eu',
    release: 'acme/1',
    list,
    options: options({ quorum, pinned }),
    message: (n) => `${n} agents said so`,
  });

describe('corroborate', () => {
  it('a quorum of distinct agent keys, exactly met, convicts', () => {
    const list = testimonyOf(agents.map((a) => [a, '/g/eu/metadata/timestamp.json']));
    const keys = agents.map((a) => a.key).sort();
    expect(judge(list)).toEqual({
      kind: 'served-stale',
      class: 'testimony',
      unfair: true,
      group: 'eu',
      release: 'acme/1',
      message: '3 agents said so (3 of a quorum of 3)',
      evidence: {
        runs: list.map((s) => ({
          agent: s.agent,
          first_at: iso(firstAt),
          last_at: iso(firstAt),
          polls: 1,
          via: '/g/eu/metadata/timestamp.json',
          tick: 5,
          source: 'log',
        })),
      },
      witnesses: keys,
      sources: ['log'],
    });
  });

  it('one key short of the quorum is uncorroborated testimony, not a conviction', () => {
    const out = judge(
      testimonyOf(agents.slice(0, 2).map((a) => [a, '/g/eu/metadata/timestamp.json'])),
    );
    expect(out.class).toBe('testimony');
    expect(out.unfair).toBe(false);
    expect(out.message).toBe('2 agents said so (2 of a quorum of 3; uncorroborated)');
  });

  it('one key signing three runs is one witness, not three', () => {
    const [a] = agents as [Agent];
    const list = testimonyOf([
      [a, '/g/eu/metadata/timestamp.json'],
      [a, '/metadata/timestamp.json'],
      [a, 'https://mirror.example'],
    ]);
    expect(list).toHaveLength(3);
    const out = judge(list);
    expect([out.unfair, out.witnesses]).toEqual([false, [a.key]]);
  });

  it("one key the group's owner pinned is enough; pinned for another group it is not", () => {
    const [a] = agents as [Agent];
    const list = testimonyOf([[a, '/g/eu/metadata/timestamp.json']]);
    const pinned = judge(list, 3, { eu: [a.key] });
    expect([pinned.unfair, pinned.message]).toEqual([
      true,
      "1 agents said so (pinned by the group's owner: 1)",
    ]);
    expect(judge(list, 3, { us: [a.key] }).unfair).toBe(false);
  });
});
