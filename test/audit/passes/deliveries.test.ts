import { describe, expect, it } from 'vitest';
import { deliveries } from '../../../src/audit/fairness.js';
import {
  type Agent,
  type Run,
  agent,
  observe,
  options,
  receipt,
  release,
  tickStart,
  timestamp,
  timestampRole,
} from './build.js';

const role = timestampRole();
// acme/1 activates at tick 5 in snapshot 7 (release time: tick 5's start).
const before = timestamp(role.key, 4, 6);
const after = timestamp(role.key, 5, 7);
const T5 = tickStart(5);
const MAX_GAP = 10_000;
const [a, b] = [agent(), agent()];

function deliver(runs: Array<[Agent, 'before' | 'after', Run]>, vouched?: string[]) {
  const report = release('acme/1', 5, 7);
  const { seen } = observe(
    role.keys,
    [before, after],
    runs.map(([who, which, run]) => receipt(who, which === 'before' ? before : after, run)),
    vouched,
  );
  deliveries(report, seen, options({ maxGapMs: MAX_GAP }));
  return report;
}

describe('deliveries', () => {
  it('per group, the first receipt with it and the last without it; the gap between groups', () => {
    const report = deliver([
      [a, 'after', { group: 'eu', firstAt: T5 + 300 }],
      [b, 'before', { group: 'us', firstAt: T5 - 4_000, lastAt: T5 + 900 }],
      [b, 'after', { group: 'us', firstAt: T5 + 1_200 }],
    ]);
    expect(report.groups).toEqual({
      eu: {
        firstDeliveryMs: 300,
        agents: 1,
        vouched: true,
        source: 'receipt',
        stalePolls: 0,
        leafIndex: 0,
      },
      us: {
        firstDeliveryMs: 1_200,
        lastWithoutMs: 900,
        agents: 1,
        vouched: true,
        source: 'receipt',
        stalePolls: 0,
        leafIndex: 0,
      },
    });
    expect([report.equityGapMs, report.equityGapUncertaintyMs]).toEqual([900, 300]);
  });

  it('served without it exactly at its tick start bounds the delivery; a ms before does not', () => {
    const at = deliver([[a, 'before', { group: 'eu', firstAt: T5 - 4_000, lastAt: T5 }]]);
    expect(at.groups.eu).toEqual({
      firstDeliveryMs: Number.NaN,
      lastWithoutMs: 0,
      agents: 0,
      vouched: true,
      source: 'receipt',
      stalePolls: 0,
      leafIndex: 0,
    });
    expect(
      deliver([[a, 'before', { group: 'eu', firstAt: T5 - 4_000, lastAt: T5 - 1 }]]).groups,
    ).toEqual({});
  });

  it('polls without it past the gap are counted stale; up to the gap they are not', () => {
    const stale = (lastAt: number) =>
      deliver([[a, 'before', { group: 'eu', firstAt: T5 - 4_000, lastAt, polls: 4 }]]).groups.eu
        ?.stalePolls;
    expect(stale(T5 + MAX_GAP)).toBe(0);
    expect(stale(T5 + MAX_GAP + 1)).toBe(4);
  });

  it("a group's figures rest on its vouched agents; unvouched ones are marked and left out of the gap", () => {
    const mallory = agent();
    const report = deliver(
      [
        [a, 'after', { group: 'eu', firstAt: T5 + 300 }],
        // Claims an impossibly early delivery in eu and speaks alone for us: neither counts as vouched.
        [mallory, 'after', { group: 'eu', firstAt: T5 + 1 }],
        [mallory, 'after', { group: 'us', firstAt: T5 + 5_000 }],
      ],
      [a.key],
    );
    expect(report.groups.eu).toMatchObject({ firstDeliveryMs: 300, agents: 1, vouched: true });
    expect(report.groups.us).toMatchObject({ firstDeliveryMs: 5_000, agents: 1, vouched: false });
    expect(report.equityGapMs).toBe(0);
  });

  it('a million runs in one group: no stack overflow (no spread over the list)', () => {
    const report = release('acme/1', 5, 7);
    const { seen } = observe(
      role.keys,
      [after],
      [receipt(a, after, { group: 'eu', firstAt: T5 + 300 })],
    );
    const many = Array.from({ length: 1_000_000 }, (_, i) => ({ ...seen[0]!, lastAt: T5 + i }));
    deliveries(report, many, options({ maxGapMs: MAX_GAP }));
    expect(report.groups.eu?.firstDeliveryMs).toBe(300);
  });
});
