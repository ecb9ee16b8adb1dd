import { describe, expect, it } from 'vitest';
import { equivocations } from '../../../src/audit/fairness.js';
import {
  type VerifiedDocument,
  verifyTimestampDocument,
} from '../../../src/tuf/timestamp-document.js';
import { collectObservations } from '../../../src/audit/observations.js';
import { canonicalBytes } from '../../../src/common/canonical.js';
import { generateKeyPair, sign, tufKey } from '../../../src/tuf/keys.js';
import { type TimestampSigned, sha256Hex, signEnvelope } from '../../../src/tuf/metadata.js';
import { buildTimestamp } from '../../../src/tuf/roles.js';
import {
  type Doc,
  agent,
  indexed,
  observe,
  receipt,
  receiptsLeaf,
  tickStart,
  timestamp,
  timestampRole,
} from './build.js';

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
          signed_sha256: [common, other].map((d) => sha256Hex(canonicalBytes(d.envelope.signed))),
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

/** The same statement in another envelope: what anyone holding a served document can make of it. */
function repackaged(doc: Doc, change: (envelope: Record<string, unknown>) => void): Doc {
  const envelope = structuredClone(doc.envelope) as unknown as Record<string, unknown>;
  change(envelope);
  const bytes = canonicalBytes(envelope);
  return {
    envelope: envelope as unknown as Doc['envelope'],
    digest: sha256Hex(bytes),
    text: bytes.toString('utf8'),
  };
}

describe('a statement repackaged by someone else is not a second statement', () => {
  const real = timestamp(role.key, 5, 3);
  const sigs = (e: Record<string, unknown>) =>
    e.signatures as Array<{ keyid: string; sig: string }>;
  const outsider = generateKeyPair();
  const padded: Array<[string, Doc]> = [
    [
      'a junk signature',
      repackaged(real, (e) => sigs(e).push({ keyid: 'a'.repeat(64), sig: 'b'.repeat(128) })),
    ],
    ['the signature twice', repackaged(real, (e) => sigs(e).push({ ...sigs(e)[0]! }))],
    [
      'a valid signature by a key no root names',
      repackaged(real, (e) => sigs(e).push(sign(outsider, canonicalBytes(e.signed)))),
    ],
    ['a field outside `signed`', repackaged(real, (e) => (e.note = 'x'))],
    [
      'a field in a signature',
      repackaged(real, (e) => (sigs(e)[0] = { ...sigs(e)[0]!, note: 'x' } as never)),
    ],
    [
      'an upper-case signature',
      repackaged(real, (e) => (sigs(e)[0]!.sig = sigs(e)[0]!.sig.toUpperCase())),
    ],
  ];

  it.each(padded)('refuses the real document with %s', (_what, doc) => {
    expect(verifyTimestampDocument(real.envelope, role.keys)?.tick).toBe(5);
    expect(verifyTimestampDocument(doc.envelope, role.keys)).toBeUndefined();
  });

  it('accepts what fairpatch signs: the clock, the snapshot meta with length and hashes', () => {
    const envelope = signEnvelope<TimestampSigned>(
      buildTimestamp(
        5,
        Date.parse('2030-01-01T00:00:00Z'),
        { version: 3, length: 10, hashes: { sha256: 'c'.repeat(64) } },
        { epochMs: 1, tickMs: 1000 },
      ),
      [role.key],
    );
    expect(verifyTimestampDocument(envelope, role.keys)?.snapshotVersion).toBe(3);
  });

  it('a field the signer added inside `signed` is its statement: admitted, and a second statement for the tick', () => {
    const envelope = signEnvelope({ ...real.envelope.signed, served_to: 'ap' }, [role.key]);
    const bytes = canonicalBytes(envelope);
    const other: Doc = {
      envelope: envelope as Doc['envelope'],
      digest: sha256Hex(bytes),
      text: bytes.toString('utf8'),
    };
    const { seen, documents } = observe(
      role.keys,
      [real, other],
      [receipt(a, real, run('eu')), receipt(b, other, run('ap'))],
    );
    // One group on each side: both are named, neither is singled out.
    const found = equivocations(documents, seen);
    expect(found.map((f) => [f.kind, f.group])).toEqual([['equivocation', undefined]]);
    expect(found[0]!.evidence).toMatchObject({ groups: ['ap', 'eu'], singled_out: [] });
  });

  it('no equivocation between one statement in two valid envelopes (signed by one and by both of two trusted keys)', () => {
    const second = generateKeyPair();
    const keys = new Map([...role.keys, [second.keyid, tufKey(second.publicKey)]]);
    const both = repackaged(real, (e) => sigs(e).push(sign(second, canonicalBytes(e.signed))));
    const { seen, documents } = observe(
      keys,
      [real, both],
      [receipt(a, real, run('eu')), receipt(b, both, run('ap'))],
    );
    expect(documents.size).toBe(2);
    expect(equivocations(documents, seen)).toEqual([]);
  });

  it('a padded document in the log or an export is reported as unverifiable, never as equivocation', () => {
    const junk = padded[0]![1];
    const { seen, documents, notes } = collectObservations({
      leaves: indexed([
        receiptsLeaf([real, junk], [receipt(a, real, run('eu')), receipt(b, junk, run('ap'))]),
      ]),
      external: [],
      timestampKeys: role.keys,
    });
    expect(equivocations(documents, seen)).toEqual([]);
    expect(notes.map((n) => n.kind)).toEqual(['receipt-unverifiable']);
  });
});
