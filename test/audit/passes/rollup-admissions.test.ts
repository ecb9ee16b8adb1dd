import { describe, expect, it } from 'vitest';
import { rollupAdmissions } from '../../../src/audit/fairness.js';
import type { LeafOf } from '../../../src/log/leaves.js';
import { indexed, release } from './build.js';
import { digestOf } from '../../../src/audit/digest/log-digest.js';

type Versions = Record<string, { polls: number; first_tick: number; last_tick: number }>;

/** A node's own roll-up, as it logs it: per group, which snapshot versions it served at which ticks. */
function rollup(groups: Record<string, Versions>, pushed?: Record<string, number>) {
  const leaf: LeafOf<'delivery.rollup'> = {
    type: 'delivery.rollup',
    v: 1,
    node: 'node-a',
    from_tick: 1,
    to_tick: 9,
    groups: Object.fromEntries(
      Object.entries(groups).map(([g, versions]) => [
        g,
        {
          polls: 10,
          versions,
          ...(pushed?.[g] !== undefined
            ? { notifications: { '5': { connections: pushed[g], fanout_us: 1_500 } } }
            : {}),
        },
      ]),
    ),
  };
  return digestOf(indexed([leaf])).rollups;
}

describe('rollupAdmissions', () => {
  it('old snapshot up to the tick before activation, new one from it: nothing; pushes recorded', () => {
    // acme/1 activates at tick 5 in snapshot 7.
    const report = release('acme/1', 5, 7);
    const out = rollupAdmissions(
      report,
      rollup(
        {
          eu: {
            '6': { polls: 4, first_tick: 1, last_tick: 4 },
            '7': { polls: 4, first_tick: 5, last_tick: 9 },
          },
          us: { '7': { polls: 4, first_tick: 5, last_tick: 9 } },
        },
        { eu: 3 },
      ),
    );
    expect(out).toEqual([]);
    expect(report.groups).toEqual({
      eu: {
        firstDeliveryMs: Number.NaN,
        agents: 0,
        source: 'rollup',
        stalePolls: 0,
        leafIndex: 0,
        notification: { connections: 3, delayMs: 1.5 },
      },
    });
  });

  it('stale-after-activation (proof): the node admits serving the old snapshot at the activation tick', () => {
    const out = rollupAdmissions(
      release('acme/1', 5, 7),
      rollup({ eu: { '6': { polls: 4, first_tick: 1, last_tick: 5 } } }),
    );
    expect(out).toEqual([
      {
        kind: 'stale-after-activation',
        class: 'proof',
        unfair: true,
        group: 'eu',
        release: 'acme/1',
        message:
          'node node-a reports serving group eu snapshot 6 at tick 5, after acme/1 activated at tick 5',
        evidence: {
          leaf: 0,
          node: 'node-a',
          snapshot_version: 6,
          last_tick: 5,
          activated_leaf: 1,
        },
      },
    ]);
  });

  it('a release not activated yet is not judged here', () => {
    const { activation: _, ...pending } = release('acme/1', 5, 7);
    expect(
      rollupAdmissions(pending, rollup({ eu: { '6': { polls: 4, first_tick: 1, last_tick: 9 } } })),
    ).toEqual([]);
  });
});
