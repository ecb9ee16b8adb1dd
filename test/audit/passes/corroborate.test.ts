import { describe, expect, it } from 'vitest';
import { corroborate } from '../../../src/audit/testimony.js';
import {
  type Agent,
  agent,
  iso,
  observe,
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
function testimonyOf(runs: Array<[Agent, string]>, vouched?: string[]) {
  return observe(
    role.keys,
    [doc],
    runs.map(([who, via]) => receipt(who, doc, { group: 'eu', firstAt, via })),
    vouched,
  ).seen;
}

const judge = (list: ReturnType<typeof testimonyOf>, quorum = 3, against?: typeof list) =>
  corroborate({
    kind: 'served-stale',
    group: 'eu',
    release: 'acme/1',
    list,
    quorum,
    ...(against ? { against } : {}),
    message: (n) => `${n} agents said so`,
  });

const VIA = '/g/eu/metadata/timestamp.json';

describe('corroborate', () => {
  it('a quorum of distinct vouched keys, exactly met, convicts', () => {
    const list = testimonyOf(agents.map((a) => [a, VIA]));
    const keys = agents.map((a) => a.key).sort();
    expect(judge(list)).toEqual({
      kind: 'served-stale',
      class: 'testimony',
      unfair: true,
      group: 'eu',
      release: 'acme/1',
      message: '3 agents said so (3 vouched of a quorum of 3)',
      evidence: {
        vouched_keys: 3,
        unvouched_keys: 0,
        runs: list.map((s) => ({
          agent: s.agent,
          vouched: true,
          first_at: iso(firstAt),
          last_at: iso(firstAt),
          polls: 1,
          via: VIA,
          tick: 5,
          source: 'log',
        })),
      },
      witnesses: keys,
      sources: ['log'],
    });
  });

  it('one vouched key short of the quorum is uncorroborated testimony, not a conviction', () => {
    const out = judge(testimonyOf(agents.slice(0, 2).map((a) => [a, VIA])));
    expect([out.class, out.unfair, out.message]).toEqual([
      'testimony',
      false,
      '2 agents said so (2 vouched of a quorum of 3; uncorroborated)',
    ]);
  });

  it('one key signing three runs is one witness, not three', () => {
    const [a] = agents as [Agent];
    const list = testimonyOf([
      [a, VIA],
      [a, '/metadata/timestamp.json'],
      [a, 'https://mirror.example'],
    ]);
    expect(list).toHaveLength(3);
    const out = judge(list);
    expect([out.unfair, out.witnesses]).toEqual([false, [a.key]]);
  });

  it("an owner's quorum of one: one vouched key is enough", () => {
    const [a] = agents as [Agent];
    expect(judge(testimonyOf([[a, VIA]]), 1).unfair).toBe(true);
  });

  it('any number of keys no owner vouches for never convicts; they are counted and reported', () => {
    const sybils = Array.from({ length: 50 }, () => agent());
    const out = judge(
      testimonyOf(
        sybils.map((s) => [s, VIA]),
        [],
      ),
      1,
    );
    expect([out.class, out.unfair, out.evidence.unvouched_keys, out.evidence.vouched_keys]).toEqual(
      ['testimony', false, 50, 0],
    );
    expect(out.message).toBe(
      '50 agents said so (50 unvouched keys: not counted, no owner vouches for them; uncorroborated)',
    );
  });

  it('vouched agents that say the opposite are named beside the testimony', () => {
    const [a, b] = agents as [Agent, Agent];
    const out = judge(testimonyOf([[a, VIA]]), 1, testimonyOf([[b, VIA]]));
    expect(out.unfair).toBe(true);
    expect(out.evidence.contradicted_by).toEqual([b.key]);
    expect(out.message).toMatch(/1 vouched agents of the group say otherwise$/);
  });
});
