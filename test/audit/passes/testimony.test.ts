import { describe, expect, it } from 'vitest';
import { collectObservations } from '../../../src/audit/observations.js';
import { testimony } from '../../../src/audit/testimony.js';
import {
  type Agent,
  type Run,
  agent,
  indexed,
  observe,
  options,
  receipt,
  receiptsLeaf,
  release,
  tickStart,
  timestamp,
  timestampRole,
} from './build.js';

const role = timestampRole();
// acme/1 activates at tick 5 in snapshot 7; tick 4's statement (snapshot 6) is without it.
const report = release('acme/1', 5, 7, ['acme/fix.tar']);
const before = timestamp(role.key, 4, 6);
const after = timestamp(role.key, 5, 7);
const MAX_GAP = 10_000;
const deadline = tickStart(5) + MAX_GAP;
const [a, b, c] = [agent(), agent(), agent()];

type Said = [Agent, 'before' | 'after', Omit<Run, 'group'>];

function judge(runs: Said[], quorum = 3) {
  const { seen } = observe(
    role.keys,
    [before, after],
    runs.map(([who, which, run]) =>
      receipt(who, which === 'before' ? before : after, { group: 'eu', ...run }),
    ),
  );
  return testimony({
    report,
    seen,
    options: options({ maxGapMs: MAX_GAP, quorum }),
    tickStart,
    quorumOf: () => quorum,
  });
}

describe('testimony', () => {
  it('without it until its tick, with it right after, pushed: nothing', () => {
    const honest = [a, b, c].flatMap((who): Said[] => [
      [who, 'before', { firstAt: tickStart(4), lastAt: tickStart(5) - 1 }],
      [who, 'after', { firstAt: tickStart(5) + 300, pushed: true }],
    ]);
    expect(judge(honest)).toEqual([]);
  });

  it('served-without-release: still served without it past the gap, by a quorum, convicts', () => {
    const out = judge(
      [a, b, c].map((who) => [who, 'before', { firstAt: tickStart(4), lastAt: deadline + 1 }]),
    );
    expect(out.map((f) => [f.kind, f.class, f.unfair, f.group, f.release, f.message])).toEqual([
      [
        'served-without-release',
        'testimony',
        true,
        'eu',
        'acme/1',
        '3 agents in group eu were still served statements without acme/1 up to 10s after its activation tick (3 vouched of a quorum of 3)',
      ],
    ]);
    expect(out[0]!.witnesses).toEqual([a, b, c].map((x) => x.key).sort());
  });

  it('served without it until exactly the end of the gap is within the rule', () => {
    expect(
      judge([a, b, c].map((who) => [who, 'before', { firstAt: tickStart(4), lastAt: deadline }])),
    ).toEqual([]);
  });

  it('push-missing: the stream was up but no push came, first got it after the gap', () => {
    const out = judge([[a, 'after', { firstAt: deadline + 1, pushed: false }]], 1);
    expect(out.map((f) => [f.kind, f.unfair, f.message])).toEqual([
      [
        'push-missing',
        true,
        '1 agents in group eu held the event stream but got no push for acme/1 (1 vouched of a quorum of 1)',
      ],
    ]);
  });

  it('no push but got it within the gap, or no stream at all: nothing', () => {
    expect(judge([[a, 'after', { firstAt: deadline, pushed: false }]], 1)).toEqual([]);
    expect(judge([[a, 'after', { firstAt: deadline + 1 }]], 1)).toEqual([]);
  });

  it("artifacts-unavailable: the release's own artifacts failed; another release's do not count", () => {
    const out = judge(
      [
        [
          a,
          'after',
          { firstAt: tickStart(5) + 300, pushed: true, artifactFailures: ['acme/fix.tar'] },
        ],
        [
          b,
          'after',
          { firstAt: tickStart(5) + 300, pushed: true, artifactFailures: ['quill/other.tar'] },
        ],
      ],
      1,
    );
    expect(out.map((f) => [f.kind, f.unfair, f.witnesses])).toEqual([
      ['artifacts-unavailable', true, [a.key]],
    ]);
  });

  it('one forged receipt never completes a quorum; the same receipt thrice is one', () => {
    const mallory = agent();
    const stale = { group: 'eu', firstAt: tickStart(4), lastAt: deadline + 1 };
    const honest = receipt(a, before, stale);
    const leaves = indexed([
      receiptsLeaf(
        [before],
        [honest, honest, receipt(b, before, stale), receipt(c, before, stale, mallory.seed)],
      ),
      receiptsLeaf([before], [honest]),
    ]);
    const { seen, notes } = collectObservations({
      leaves,
      external: [],
      timestampKeys: role.keys,
      vouched: () => true,
    });
    expect(notes.map((n) => n.kind)).toEqual(['receipt-unverifiable']);
    const out = testimony({
      report,
      seen,
      options: options({ maxGapMs: MAX_GAP }),
      tickStart,
      quorumOf: () => 3,
    });
    expect(out.map((f) => [f.kind, f.unfair, f.witnesses])).toEqual([
      ['served-without-release', false, [a.key, b.key].sort()],
    ]);
  });

  it('a release not activated yet has no testimony', () => {
    const { activation: _, ...pending } = report;
    const { seen } = observe(
      role.keys,
      [before],
      [receipt(a, before, { group: 'eu', firstAt: deadline + 5_000 })],
    );
    expect(
      testimony({ report: pending, seen, options: options(), tickStart, quorumOf: () => 1 }),
    ).toEqual([]);
  });
});
