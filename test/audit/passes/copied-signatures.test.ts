import { describe, expect, it } from 'vitest';
import { vouchedKeys } from '../../../src/audit/enrollments.js';
import { collectObservations, newVerificationCache } from '../../../src/audit/observations.js';
import { signEnrollment } from '../../../src/common/enrollment.js';
import { digestOf, foldLeaf, foldMemo } from '../../../src/audit/digest/log-digest.js';
import {
  agent,
  indexed,
  receipt,
  receiptsLeaf,
  tickStart,
  timestamp,
  timestampRole,
} from './build.js';

// A signature is checked on the words it signs. Anyone can copy a valid signature from the public
// log onto words of their own (another agent, another group); a check remembered by signature alone
// would then vouch for, or count, what nobody signed.

const role = timestampRole();
const doc = timestamp(role.key, 3, 2);
const owner = agent();
const honest = agent();
const mallory = agent();
const at = (ms: number) => new Date(ms).toISOString();

describe('a signature copied onto other words', () => {
  it("does not vouch for another agent: an owner's certificate is checked on what it certifies", () => {
    const certificate = signEnrollment(
      {
        v: 1,
        group: 'eu',
        agent: honest.key,
        owner: owner.key,
        issued_at: at(tickStart(1)),
        expires_at: at(tickStart(1000)),
      },
      owner.seed,
    );
    const copied = {
      enrollment: { ...certificate.enrollment, agent: mallory.key },
      sig: certificate.sig,
    };
    const { vouched } = vouchedKeys({
      leaves: [],
      enrollments: [{ leaf: 5, certificate }],
      external: [{ source: 'receipts.json', documents: {}, receipts: [], enrollments: [copied] }],
      owners: { eu: { keys: [owner.key] } },
      pinnedClients: {},
    });
    expect(vouched.vouched('eu', honest.key, tickStart(10))).toBe(true);
    expect(vouched.vouched('eu', mallory.key, tickStart(10))).toBe(false);
  });

  it('does not count as a receipt, even where the original was checked before', () => {
    const run = { group: 'eu', firstAt: tickStart(3) + 100 };
    const original = receipt(honest, doc, run);
    const copied = {
      observation: { ...original.observation, group: 'us' },
      sig: original.sig,
    };
    const cache = newVerificationCache();
    const leaves = indexed([receiptsLeaf([doc], [original])]);
    const collect = (external: Parameters<typeof collectObservations>[0]['external']) =>
      collectObservations({ leaves, external, timestampKeys: role.keys, cache });
    expect(collect([]).seen.map((s) => s.group)).toEqual(['eu']);
    const out = collect([
      { source: 'receipts.json', documents: { [doc.digest]: doc.envelope }, receipts: [copied] },
    ]);
    expect(out.seen.map((s) => s.group)).toEqual(['eu']);
    expect(out.notes.map((n) => [n.kind, n.evidence.source])).toEqual([
      ['receipt-unverifiable', 'receipts.json'],
    ]);
  });

  it('logged before the original, does not hide it: full and incremental folds count the original', () => {
    const original = receipt(honest, doc, { group: 'eu', firstAt: tickStart(3) + 100 });
    const copied = { observation: { ...original.observation, polls: 99 }, sig: original.sig };
    const leaves = [receiptsLeaf([doc], [copied]), receiptsLeaf([doc], [original])];
    const whole = digestOf(indexed(leaves));
    const split = digestOf(indexed(leaves.slice(0, 1)));
    foldLeaf(split, leaves[1]!, foldMemo(split)); // the next run, with a memo of its own
    for (const digest of [whole, split]) {
      expect([...digest.receipts.runs.values()].map((r) => r.polls)).toEqual([1]);
      expect(digest.receipts.invalid.size).toBe(1);
    }
    // And an export holding the original, beside a log holding only the copy: the original counts.
    const out = collectObservations({
      leaves: indexed(leaves.slice(0, 1)),
      external: [
        {
          source: 'receipts.json',
          documents: { [doc.digest]: doc.envelope },
          receipts: [original],
        },
      ],
      timestampKeys: role.keys,
    });
    expect(out.seen.map((s) => [s.source, s.polls])).toEqual([['receipts.json', 1]]);
  });
});
