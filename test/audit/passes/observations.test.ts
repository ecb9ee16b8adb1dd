import { describe, expect, it } from 'vitest';
import { collectObservations } from '../../../src/audit/observations.js';
import type { Leaf } from '../../../src/log/leaves.js';
import {
  agent,
  indexed,
  receipt,
  receiptsLeaf,
  tickStart,
  timestamp,
  timestampRole,
  verified,
} from './build.js';

const role = timestampRole();
const doc = timestamp(role.key, 3, 2);
const alice = agent();
const run = { group: 'eu', firstAt: tickStart(3) + 100, lastAt: tickStart(3) + 4_100, polls: 5 };

const collect = (
  leaves: Leaf[],
  external: Parameters<typeof collectObservations>[0]['external'] = [],
) => collectObservations({ leaves: indexed(leaves), external, timestampKeys: role.keys });

describe('collectObservations', () => {
  it('admits an agent-signed run about a timestamp the trusted key signed', () => {
    const out = collect([receiptsLeaf([doc], [receipt(alice, doc, run)])]);
    expect(out.notes).toEqual([]);
    expect([...out.documents.keys()]).toEqual([doc.digest]);
    expect(out.seen).toEqual([
      {
        agent: alice.key,
        group: 'eu',
        doc: verified(doc, role.keys),
        firstAt: run.firstAt,
        lastAt: run.lastAt,
        polls: 5,
        via: '/g/eu/metadata/timestamp.json',
        pushed: undefined,
        artifactFailures: [],
        pathFailures: [],
        checkpoints: [],
        source: 'log',
        vouched: false,
      },
    ]);
  });

  it('a receipt for a document from another root is unverifiable and counts for nothing', () => {
    const foreign = timestamp(timestampRole().key, 3, 2);
    const out = collect([receiptsLeaf([foreign], [receipt(alice, foreign, run)])]);
    expect(out.seen).toEqual([]);
    expect(out.documents.size).toBe(0);
    expect(out.notes).toEqual([
      {
        kind: 'receipt-unverifiable',
        class: 'note',
        unfair: false,
        message: `document ${foreign.digest} (log leaf 0) is not a timestamp signed by a trusted key of this repository`,
        evidence: { digest: foreign.digest, where: 'log leaf 0' },
      },
    ]);
  });

  it('a receipt signed by a key other than the one it names is unverifiable', () => {
    const mallory = agent();
    const forged = receipt(alice, doc, run, mallory.seed);
    const out = collect([receiptsLeaf([doc], [forged])]);
    expect(out.seen).toEqual([]);
    expect(out.notes).toEqual([
      {
        kind: 'receipt-unverifiable',
        class: 'note',
        unfair: false,
        message: 'an observation from log does not carry a valid agent signature',
        evidence: { source: 'log', sig: forged.sig },
      },
    ]);
  });

  it('a signed receipt re-labelled to another group after signing is unverifiable', () => {
    const signed = receipt(alice, doc, run);
    const relabelled = { ...signed, observation: { ...signed.observation, group: 'us' } };
    const out = collect([receiptsLeaf([doc], [relabelled])]);
    expect(out.seen).toEqual([]);
    expect(out.notes.map((n) => n.kind)).toEqual(['receipt-unverifiable']);
  });

  it('the same signature from the log twice and from a witness counts once', () => {
    const r = receipt(alice, doc, run);
    const out = collect(
      [receiptsLeaf([doc], [r, r]), receiptsLeaf([doc], [r])],
      [
        {
          source: 'witness https://w.example',
          documents: { [doc.digest]: doc.envelope },
          receipts: [r],
        },
      ],
    );
    expect(out.notes).toEqual([]);
    expect(out.seen).toHaveLength(1);
    expect(out.seen[0]!.source).toBe('log');
  });

  it('a forged receipt handed in twice is reported once: a signature is judged once', () => {
    const forged = receipt(alice, doc, run, agent().seed);
    const out = collect(
      [receiptsLeaf([doc], [forged, forged])],
      [{ source: 'receipts.json', documents: { [doc.digest]: doc.envelope }, receipts: [forged] }],
    );
    expect(out.seen).toEqual([]);
    expect(out.notes.map((n) => [n.kind, n.evidence.sig])).toEqual([
      ['receipt-unverifiable', forged.sig],
    ]);
  });

  it('a receipt only a witness holds is admitted with the witness as its source', () => {
    const r = receipt(alice, doc, run);
    const out = collect(
      [],
      [
        {
          source: 'witness https://w.example',
          documents: { [doc.digest]: doc.envelope },
          receipts: [r],
        },
      ],
    );
    expect(out.notes).toEqual([]);
    expect(out.seen.map((s) => [s.agent, s.source])).toEqual([
      [alice.key, 'witness https://w.example'],
    ]);
  });

  it('a run signed again as it grew counts as its longest version, with every failure reported', () => {
    const short = receipt(alice, doc, {
      ...run,
      lastAt: run.firstAt + 1_000,
      polls: 2,
      artifactFailures: ['acme/a.tar'],
    });
    const long = receipt(alice, doc, { ...run, pathFailures: ['/g/eu/metadata/timestamp.json'] });
    const out = collect([receiptsLeaf([doc], [long, short])]);
    expect(out.seen).toHaveLength(1);
    expect(out.seen[0]).toMatchObject({
      firstAt: run.firstAt,
      lastAt: run.lastAt,
      polls: 5,
      artifactFailures: ['acme/a.tar'],
      pathFailures: ['/g/eu/metadata/timestamp.json'],
    });
  });

  it('two agents, or one agent through two paths, are separate runs', () => {
    const bob = agent();
    const out = collect([
      receiptsLeaf(
        [doc],
        [
          receipt(alice, doc, run),
          receipt(bob, doc, run),
          receipt(alice, doc, { ...run, via: 'https://mirror.example' }),
        ],
      ),
    ]);
    expect(out.notes).toEqual([]);
    expect(
      out.seen.map((s) => `${s.agent === alice.key ? 'alice' : 'bob'} ${s.via}`).sort(),
    ).toEqual([
      'alice /g/eu/metadata/timestamp.json',
      'alice https://mirror.example',
      'bob /g/eu/metadata/timestamp.json',
    ]);
  });

  it('a receipt naming a document nobody supplied is left out', () => {
    const other = timestamp(role.key, 4, 2);
    const out = collect([receiptsLeaf([doc], [receipt(alice, other, run)])]);
    expect(out.seen).toEqual([]);
    expect(out.notes).toEqual([]);
  });

  it('unsigned (v1) receipts are a note, never evidence', () => {
    const legacy: Leaf = {
      type: 'receipts.batch',
      v: 1,
      documents: { [doc.digest]: doc.text },
      observations: [
        { document: doc.digest, group: 'eu', client: 'c1', received_at: '2026-03-01T00:00:11Z' },
        { document: doc.digest, group: 'us', client: 'c2', received_at: '2026-03-01T00:00:12Z' },
      ],
    };
    const out = collect([legacy]);
    expect(out.seen).toEqual([]);
    expect(out.notes).toEqual([
      {
        kind: 'receipt-unsigned',
        class: 'note',
        unfair: false,
        message: '2 receipts in the log predate agent signatures: not counted as evidence',
        evidence: { count: 2 },
      },
    ]);
  });

  it('outside evidence that is not a receipt batch is a note', () => {
    const out = collect([], [{ source: 'receipts.json', documents: {}, receipts: [] }]);
    expect(out.seen).toEqual([]);
    expect(out.notes).toHaveLength(1);
    expect(out.notes[0]).toMatchObject({
      kind: 'receipt-unverifiable',
      class: 'note',
      unfair: false,
      evidence: { source: 'receipts.json' },
    });
  });

  it('an outside document filed under a digest that is not its own is not admitted', () => {
    const other = timestamp(role.key, 4, 2);
    const r = receipt(alice, doc, run);
    const out = collect(
      [],
      [{ source: 'receipts.json', documents: { [doc.digest]: other.envelope }, receipts: [r] }],
    );
    expect(out.documents.size).toBe(0);
    expect(out.seen).toEqual([]);
  });
});
