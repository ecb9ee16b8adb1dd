import { describe, expect, it } from 'vitest';
import { earlyRelease } from '../../../src/audit/fairness.js';
import { agent, observe, receipt, release, tickStart, timestamp, timestampRole } from './build.js';

const role = timestampRole();
const [a, b] = [agent(), agent()];
// acme/1 activates at tick 5 in snapshot 7.
const report = release('acme/1', 5, 7);

function served(docs: Array<[tick: number, snapshot: number, group: string]>) {
  const list = docs.map(([tick, snapshot, group]) => ({
    doc: timestamp(role.key, tick, snapshot),
    group,
  }));
  return observe(
    role.keys,
    list.map((d) => d.doc),
    list.map((d, i) => receipt(i % 2 ? b : a, d.doc, { group: d.group, firstAt: tickStart(5) })),
  );
}

describe('earlyRelease', () => {
  it('before its tick without it, from its tick on with it: nothing', () => {
    const { seen, documents } = served([
      [4, 6, 'eu'],
      [5, 7, 'eu'],
      [6, 7, 'us'],
    ]);
    expect(earlyRelease(report, documents, seen)).toEqual([]);
  });

  it('early-release (proof): a statement for the tick before already carries it', () => {
    const { seen, documents } = served([
      [4, 7, 'eu'],
      [5, 7, 'us'],
    ]);
    const early = [...documents.values()].find((d) => d.tick === 4)!;
    expect(earlyRelease(report, documents, seen)).toEqual([
      {
        kind: 'early-release',
        class: 'proof',
        unfair: true,
        release: 'acme/1',
        group: 'eu',
        message:
          'a statement for tick 4 already carries acme/1 (snapshot 7), which activates at tick 5: served early to eu',
        evidence: {
          document: early.bytes.toString(),
          signed_sha256: early.signedDigest,
          activated_leaf: 1,
          groups: ['eu'],
        },
      },
    ]);
  });

  it('a later snapshot before the tick carries it too; exactly at the tick is on time', () => {
    const { seen, documents } = served([
      [4, 8, 'eu'],
      [4, 8, 'us'],
      [5, 9, 'eu'],
    ]);
    const out = earlyRelease(report, documents, seen);
    expect(out.map((f) => [f.kind, f.group, f.evidence.groups])).toEqual([
      ['early-release', undefined, ['eu', 'us']],
    ]);
  });

  it('a release not activated yet is not judged here', () => {
    const { activation: _, ...pending } = report;
    const { seen, documents } = served([[4, 7, 'eu']]);
    expect(earlyRelease(pending, documents, seen)).toEqual([]);
  });
});
