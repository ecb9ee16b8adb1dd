import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { embargoesFrom } from '../../../src/audit/embargoes.js';
import type { Finding, ReleaseReport } from '../../../src/audit/report.js';
import {
  type EmbargoDecisionLeaf,
  decisionCommitment,
  embargoCommitment,
} from '../../../src/log/embargo-leaves.js';
import type { Leaf, LeafOf } from '../../../src/log/leaves.js';
import { indexed, release, tickStart } from './build.js';

const ID = 'CVE-2026-0001';
const nonce = randomBytes(32).toString('hex');
const MEMBERS = ['acme', 'quill', 'zeta'];
const leftOutZeta: EmbargoDecisionLeaf = {
  decision: 'left-out',
  member: 'zeta',
  activation_tick: 5,
};
const commitment = embargoCommitment(ID, MEMBERS, nonce);

/** Created (leaf 0) and one decision committed (leaf 1) before the reveal, as the operator logs them. */
const committed: Leaf[] = [
  { type: 'embargo.created', v: 1, commitment, activation_tick: 5 },
  {
    type: 'embargo.decided',
    v: 1,
    commitment,
    seq: 1,
    decision_sha256: decisionCommitment(ID, nonce, 1, leftOutZeta),
    activation_tick: 5,
  },
];
const reveal = (o: Partial<Extract<LeafOf<'embargo.revealed'>, { v: 1 }>> = {}): Leaf => ({
  type: 'embargo.revealed',
  v: 1,
  id: ID,
  nonce,
  members: MEMBERS,
  left_out: ['zeta'],
  activation_tick: 5,
  decisions: [leftOutZeta],
  ...o,
});

function judge(leaves: Leaf[], releases: ReleaseReport[], findings: Finding[] = []) {
  const all = indexed(leaves);
  const of = <T extends Leaf['type']>(type: T) =>
    all.filter((l) => l.leaf.type === type) as Array<{ index: number; leaf: LeafOf<T> }>;
  return embargoesFrom({
    created: of('embargo.created'),
    decided: of('embargo.decided'),
    revealed: of('embargo.revealed'),
    releases,
    findings,
    tickStart,
  });
}

const activatedAt = (id: string, tick: number, snapshot: number): ReleaseReport => {
  const r = release(id, 5, snapshot);
  return { ...r, activation: { ...r.activation!, tick, tickStart: tickStart(tick) } };
};
const shipped = [release('acme/1', 5, 7), release('quill/1', 5, 7)];

describe('embargoesFrom', () => {
  it('the reveal opens its commitments, every shipped member in one snapshot at its tick: nothing', () => {
    const out = judge([...committed, reveal()], shipped);
    expect(out.findings).toEqual([]);
    expect(out.embargoes).toEqual([
      {
        id: ID,
        tick: 5,
        tickStart: tickStart(5),
        members: {
          acme: {
            status: 'shipped',
            release: 'acme/1',
            activationTick: 5,
            snapshotVersion: 7,
            groups: {},
          },
          quill: {
            status: 'shipped',
            release: 'quill/1',
            activationTick: 5,
            snapshotVersion: 7,
            groups: {},
          },
          zeta: { status: 'left-out', groups: {} },
        },
        leftOut: ['zeta'],
        decisions: [leftOutZeta],
        revealedLeaf: 2,
        snapshotVersion: 7,
      },
    ]);
  });

  it('embargo-commitment-mismatch (proof): members rewritten at the reveal open no commitment', () => {
    const out = judge([...committed, reveal({ members: ['acme', 'zeta'] })], shipped);
    const rewritten = embargoCommitment(ID, ['acme', 'zeta'], nonce);
    expect(out.findings).toEqual([
      {
        kind: 'embargo-commitment-mismatch',
        class: 'proof',
        unfair: true,
        message: `embargo ${ID}: its reveal opens no commitment made before it (members or id rewritten)`,
        evidence: { revealed_leaf: 2, commitment: rewritten },
      },
      {
        kind: 'embargo-commitment-mismatch',
        class: 'proof',
        unfair: true,
        message: `embargo ${ID}: 0 decisions were committed, 1 revealed`,
        evidence: { revealed_leaf: 2, committed: [] },
      },
    ]);
  });

  it('a commitment logged only after the reveal is no commitment', () => {
    const out = judge([committed[1]!, reveal(), committed[0]!], shipped);
    expect(out.findings.map((f) => f.message)).toEqual([
      `embargo ${ID}: its reveal opens no commitment made before it (members or id rewritten)`,
    ]);
  });

  it('a decision revealed otherwise than committed, or one committed and never revealed', () => {
    const other = { ...leftOutZeta, member: 'quill' };
    const changed = judge(
      [...committed, reveal({ left_out: ['quill'], decisions: [other] })],
      shipped,
    );
    expect(changed.findings.map((f) => [f.kind, f.message, f.evidence])).toEqual([
      [
        'embargo-commitment-mismatch',
        `embargo ${ID}: decision 1 revealed is not the one committed`,
        { revealed_leaf: 2, decided_leaf: 1 },
      ],
    ]);
    const hidden = judge([...committed, reveal({ left_out: [], decisions: [] })], shipped);
    expect(hidden.findings.map((f) => [f.kind, f.message])).toEqual([
      ['embargo-commitment-mismatch', `embargo ${ID}: 1 decisions were committed, 0 revealed`],
    ]);
  });

  it('embargo-split (proof): a member activated a tick after the embargo', () => {
    const late = activatedAt('quill/1', 6, 7);
    const out = judge([...committed, reveal()], [shipped[0]!, late]);
    expect(out.findings).toEqual([
      {
        kind: 'embargo-split',
        class: 'proof',
        unfair: true,
        release: 'quill/1',
        message: `embargo ${ID}: quill activated at tick 6, not at the embargo's tick 5`,
        evidence: { revealed_leaf: 2, activated_leaf: 1 },
      },
    ]);
  });

  it('embargo-split (proof): members at its tick but in two snapshot versions', () => {
    const out = judge([...committed, reveal()], [shipped[0]!, release('quill/1', 5, 8)]);
    expect(out.findings).toEqual([
      {
        kind: 'embargo-split',
        class: 'proof',
        unfair: true,
        message: `embargo ${ID}: its members went live in snapshot versions 7, 8, not one`,
        evidence: { revealed_leaf: 2, activated_leaves: [1, 1] },
      },
    ]);
    expect(out.embargoes[0]!.snapshotVersion).toBeUndefined();
  });

  it('members served early, not yet activated, or never scheduled for its tick', () => {
    const { activation: _, ...pending } = release('quill/1', 5, 7);
    const early: Finding = {
      kind: 'early-release',
      class: 'proof',
      unfair: true,
      release: 'acme/1',
      message: '',
      evidence: {},
    };
    const out = judge([...committed, reveal()], [shipped[0]!, pending], [early]);
    expect(out.findings).toEqual([]);
    expect(Object.entries(out.embargoes[0]!.members).map(([m, s]) => [m, s.status])).toEqual([
      ['acme', 'early'],
      ['quill', 'pending'],
      ['zeta', 'left-out'],
    ]);
    const none = judge([...committed, reveal()], [shipped[0]!]);
    expect(none.embargoes[0]!.members.quill!.status).toBe('not-shipped');
    // Halted by its vendor before the tick: not pending, never shipped.
    const halted: ReleaseReport = {
      ...pending,
      halted: true,
      withdrawn: {
        tick: 4,
        tickStart: tickStart(4),
        metadataVersion: 2,
        leaf: 3,
        beforeLive: true,
      },
    };
    const withdrawn = judge([...committed, reveal()], [shipped[0]!, halted]);
    expect(withdrawn.embargoes[0]!.members.quill!.status).toBe('not-shipped');
  });
});
