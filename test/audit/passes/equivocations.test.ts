import { describe, expect, it } from 'vitest';
import { equivocations } from '../../../src/audit/fairness.js';
import {
  type VerifiedDocument,
  verifyTimestampDocument,
} from '../../../src/tuf/timestamp-document.js';
import { type Doc, agent, observe, receipt, tickStart, timestamp, timestampRole } from './build.js';

const role = timestampRole();
const [a, b, c] = [agent(), agent(), agent()];
const inOrder = (documents: Map<string, VerifiedDocument>, docs: Doc[]) =>
  new Map(docs.map((d) => [d.digest, documents.get(d.digest)!]));
const run = (group: string) => ({ group, firstAt: tickStart(5) + 200 });

describe('equivocations', () => {
  it('one statement per tick, whoever got it: nothing', () => {
    const t5 = timestamp(role.key, 5, 3);
    const t6 = timestamp(role.key, 6, 3);
    const { seen, documents } = observe(
      role.keys,
      [t5, t6],
      [receipt(a, t5, run('eu')), receipt(b, t5, run('us')), receipt(c, t6, run('ap'))],
    );
    expect(equivocations(documents, seen)).toEqual([]);
  });

  it('equivocation (proof): two statements signed for one tick, the group told otherwise singled out', () => {
    const common = timestamp(role.key, 5, 3);
    const other = timestamp(role.key, 5, 2);
    const { seen, documents } = observe(
      role.keys,
      [common, other],
      [receipt(a, common, run('eu')), receipt(b, common, run('us')), receipt(c, other, run('ap'))],
    );
    // The log sorts documents by digest; put them in the order this test reads them.
    const out = equivocations(inOrder(documents, [common, other]), seen);
    expect(out).toEqual([
      {
        kind: 'equivocation',
        class: 'proof',
        unfair: true,
        group: 'ap',
        message:
          'two different timestamp documents signed for tick 5: eu, us got one, ap the other',
        evidence: {
          tick: 5,
          documents: [common.text, other.text],
          groups: ['ap', 'eu', 'us'],
          singled_out: ['ap'],
        },
      },
    ]);
    // The proof is what the accused signed: both documents verify under its own timestamp key.
    for (const text of out[0]!.evidence.documents as string[])
      expect(verifyTimestampDocument(JSON.parse(text), role.keys)?.tick).toBe(5);
  });

  it('convicts on the signed documents alone, even when nobody is known to have been served one', () => {
    const one = timestamp(role.key, 5, 3);
    const two = timestamp(role.key, 5, 3, '2031-01-01T00:00:00Z');
    const { documents } = observe(role.keys, [one, two], [receipt(a, one, run('eu'))]);
    const out = equivocations(documents, []);
    expect(out.map((f) => [f.kind, f.unfair, f.group, f.message])).toEqual([
      [
        'equivocation',
        true,
        undefined,
        'two different timestamp documents signed for tick 5: no group got one, no group the other',
      ],
    ]);
  });
});
