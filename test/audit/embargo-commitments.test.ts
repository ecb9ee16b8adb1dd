import { describe, expect, it } from 'vitest';
import { embargoesFrom } from '../../src/audit/embargoes.js';
import type { ReleaseReport } from '../../src/audit/report.js';
import { decisionCommitment, embargoCommitment } from '../../src/log/embargo-leaves.js';
import type { LeafOf } from '../../src/log/leaves.js';

const NONCE = 'ab'.repeat(32);
const ID = 'CVE-2026-4242';
const members = ['acme', 'quill'];
const created = (commitment = embargoCommitment(ID, members, NONCE)) => [
  {
    index: 1,
    leaf: {
      type: 'embargo.created',
      v: 1,
      commitment,
      activation_tick: 60,
    } as LeafOf<'embargo.created'>,
  },
];
const revealed = (extra: Partial<LeafOf<'embargo.revealed'>> = {}) => [
  {
    index: 9,
    leaf: {
      type: 'embargo.revealed',
      v: 1,
      id: ID,
      nonce: NONCE,
      members,
      left_out: [],
      activation_tick: 60,
      decisions: [],
      ...extra,
    } as LeafOf<'embargo.revealed'>,
  },
];
const release = (vendor: string, tick: number, snapshotVersion: number): ReleaseReport => ({
  id: `${vendor}/2`,
  vendor,
  metadataVersion: 2,
  releaseAt: 0,
  targets: [],
  scheduledLeaf: 2,
  scheduledTick: 60,
  groups: {},
  activation: { tick, tickStart: 0, delayMs: 0, snapshotVersion, leaf: 5 },
});
const audit = (input: Partial<Parameters<typeof embargoesFrom>[0]>) =>
  embargoesFrom({
    created: created(),
    decided: [],
    revealed: revealed(),
    releases: [release('acme', 60, 7), release('quill', 60, 7)],
    findings: [],
    tickStart: (k) => k * 1000,
    ...input,
  });

describe('the audit of an embargo from its leaves alone', () => {
  it('an honest embargo: both members shipped in one snapshot at its tick, no finding', () => {
    const { embargoes, findings } = audit({});
    expect(findings).toEqual([]);
    expect(embargoes[0]).toMatchObject({
      id: ID,
      tick: 60,
      snapshotVersion: 7,
      members: { acme: { status: 'shipped' }, quill: { status: 'shipped' } },
    });
  });

  it('proof when the reveal opens other members than were committed before the tick', () => {
    const { findings } = audit({ revealed: revealed({ members: ['acme'] }) });
    expect(findings.map((f) => [f.kind, f.class, f.unfair])).toEqual([
      ['embargo-commitment-mismatch', 'proof', true],
    ]);
  });

  it('proof when a revealed decision is not the committed one, or one is missing', () => {
    const decision = { decision: 'left-out' as const, member: 'quill', activation_tick: 60 };
    const committed = [
      {
        index: 3,
        leaf: {
          type: 'embargo.decided',
          v: 1,
          commitment: embargoCommitment(ID, members, NONCE),
          seq: 1,
          decision_sha256: decisionCommitment(ID, NONCE, 1, decision),
          activation_tick: 60,
        } as LeafOf<'embargo.decided'>,
      },
    ];
    expect(
      audit({
        decided: committed,
        revealed: revealed({ decisions: [decision], left_out: ['quill'] }),
      }).findings,
    ).toEqual([]);
    expect(
      audit({
        decided: committed,
        revealed: revealed({ decisions: [{ ...decision, member: 'acme' }], left_out: ['acme'] }),
      }).findings.map((f) => f.kind),
    ).toEqual(['embargo-commitment-mismatch']);
    expect(
      audit({ revealed: revealed({ decisions: [decision], left_out: ['quill'] }) }).findings.map(
        (f) => f.kind,
      ),
    ).toEqual(['embargo-commitment-mismatch']);
  });

  it('proof when members went live in two snapshot versions or at another tick', () => {
    const { findings, embargoes } = audit({
      releases: [release('acme', 60, 7), release('quill', 61, 8)],
    });
    expect(findings.map((f) => f.kind).sort()).toEqual(['embargo-split', 'embargo-split']);
    expect(embargoes[0]!.snapshotVersion).toBeUndefined();
  });
});
