import { describe, expect, it } from 'vitest';
import { activationFindings } from '../../../src/audit/fairness.js';
import { activated, options, release, tickStart, vendorMetadata } from './build.js';

const metadata = vendorMetadata(1, { 'acme/fix.tar': 'agent 1.0.1' });
const GRACE = 60_000;
const opts = options({ activationGraceMs: GRACE });

function due(tick: number, halted = false) {
  const { activation: _, ...report } = release('acme/1', tick, 7);
  return { report: { ...report, halted }, activationTick: tick };
}

const at = (tick: number, activatedTick: number, now = tickStart(activatedTick)) =>
  activationFindings({
    release: {
      ...due(tick),
      activation: { index: 1, leaf: activated('acme', 1, activatedTick, 7, metadata) },
    },
    now,
    options: opts,
    tickStart,
  });

describe('activationFindings', () => {
  it('activated at the committed tick: nothing', () => {
    expect(at(4, 4)).toEqual([]);
  });

  it('activation-late (proof) when activated a tick after the one committed', () => {
    expect(at(4, 5)).toEqual([
      {
        kind: 'activation-late',
        class: 'proof',
        unfair: true,
        release: 'acme/1',
        message: 'acme/1 was committed for tick 4 and activated at tick 5',
        evidence: { scheduled_leaf: 0, activated_leaf: 1 },
      },
    ]);
  });

  it('activated a tick early is off its commitment too', () => {
    expect(at(4, 3).map((f) => f.kind)).toEqual(['activation-late']);
  });

  it('no activation: nothing until the grace period is over (exactly at its end included)', () => {
    const missing = (now: number, halted = false) =>
      activationFindings({ release: due(4, halted), now, options: opts, tickStart });
    expect(missing(tickStart(4) + GRACE)).toEqual([]);
    expect(missing(tickStart(4) + GRACE + 1)).toEqual([
      {
        kind: 'activation-missing',
        class: 'proof',
        unfair: true,
        release: 'acme/1',
        message: 'acme/1 was due at tick 4 but no activation was logged',
        evidence: { scheduled_leaf: 0 },
      },
    ]);
    // A halt withdrew it: not due any more.
    expect(missing(tickStart(4) + GRACE + 1, true)).toEqual([]);
  });
});
