import { describe, expect, it } from 'vitest';
import { coverage, deliveries, verdictOf } from '../../../src/audit/fairness.js';
import { collectObservations } from '../../../src/audit/observations.js';
import type { ReleaseReport } from '../../../src/audit/report.js';
import {
  agent,
  indexed,
  options,
  receipt,
  receiptsLeaf,
  release,
  tickStart,
  timestamp,
  timestampRole,
} from './build.js';

const MAX_GAP = 10_000;
const due = tickStart(5) + MAX_GAP;

/** acme/1 activated at tick 5; `groups` are the groups its agents' receipts covered. */
function delivered(groups: ReleaseReport['groups']): ReleaseReport {
  return { ...release('acme/1', 5, 7), groups };
}
const receiptCovered = {
  firstDeliveryMs: 300,
  agents: 1,
  vouched: true,
  source: 'receipt' as const,
  stalePolls: 0,
  leafIndex: 0,
};

const judge = (declared: string[] | undefined, releases: ReleaseReport[], now = due) =>
  coverage({ declared, releases, seen: [], now, options: options({ maxGapMs: MAX_GAP }) });

describe('coverage', () => {
  it('every declared group has a vouched receipt carrying every due release: nothing', () => {
    expect(judge(['eu', 'us'], [delivered({ eu: receiptCovered, us: receiptCovered })])).toEqual(
      [],
    );
  });

  it('receipts from unvouched keys cover nothing (one fresh key per group makes no FAIR)', () => {
    const out = judge(['eu'], [delivered({ eu: { ...receiptCovered, vouched: false } })]);
    expect(out.map((f) => [f.kind, f.class, f.group, f.message])).toEqual([
      [
        'no-evidence',
        'cannot-verify',
        'eu',
        'only keys no owner vouches for report on group eu for acme/1: its delivery cannot be verified',
      ],
    ]);
  });

  it('a group whose only evidence says it was withheld is never FAIR', () => {
    const withheld = { ...receiptCovered, firstDeliveryMs: Number.NaN, lastWithoutMs: 76_000 };
    const out = judge(['eu'], [delivered({ eu: withheld })]);
    expect(out.map((f) => [f.kind, f.class])).toEqual([['no-evidence', 'cannot-verify']]);
    expect(verdictOf(out)).toBe('CANNOT_VERIFY');
  });

  it('groups-undeclared (cannot verify): the auditor cannot know whom to cover', () => {
    expect(judge(undefined, [])).toEqual([
      {
        kind: 'groups-undeclared',
        class: 'cannot-verify',
        unfair: false,
        message:
          'the operator has not declared its customer groups in the log: the audit cannot know whom it must cover',
        evidence: {},
      },
    ]);
  });

  it('no-evidence (cannot verify): a declared group without receipts, from the end of the gap on', () => {
    const releases = [delivered({ eu: receiptCovered })];
    expect(judge(['eu', 'us'], releases, due - 1)).toEqual([]);
    expect(judge(['eu', 'us'], releases, due)).toEqual([
      {
        kind: 'no-evidence',
        class: 'cannot-verify',
        unfair: false,
        group: 'us',
        release: 'acme/1',
        message: 'no agent receipt from group us covers acme/1: its delivery cannot be verified',
        evidence: {},
      },
    ]);
  });

  it("a node's own roll-up is no agent receipt; a release not activated is not due", () => {
    const rollupOnly = {
      ...receiptCovered,
      firstDeliveryMs: Number.NaN,
      source: 'rollup' as const,
    };
    expect(judge(['eu'], [delivered({ eu: rollupOnly })]).map((f) => [f.kind, f.group])).toEqual([
      ['no-evidence', 'eu'],
    ]);
    const { activation: _, ...pending } = release('acme/1', 5, 7);
    expect(judge(['eu'], [pending], due + 60_000)).toEqual([]);
  });

  it('receipts about a document from another root: cannot verify, never proof', () => {
    const role = timestampRole();
    const foreign = timestamp(timestampRole().key, 5, 7);
    const leaves = indexed([
      receiptsLeaf(
        [foreign],
        [agent(), agent(), agent()].map((a) =>
          receipt(a, foreign, { group: 'eu', firstAt: tickStart(5) }),
        ),
      ),
    ]);
    const { seen, notes } = collectObservations({ leaves, external: [], timestampKeys: role.keys });
    const report = release('acme/1', 5, 7);
    deliveries(report, seen, options({ maxGapMs: MAX_GAP }));
    const findings = [...notes, ...judge(['eu'], [report])];
    expect(findings.map((f) => [f.kind, f.class, f.unfair])).toEqual([
      ['receipt-unverifiable', 'note', false],
      ['no-evidence', 'cannot-verify', false],
    ]);
    expect(verdictOf(findings)).toBe('CANNOT_VERIFY');
  });
});
