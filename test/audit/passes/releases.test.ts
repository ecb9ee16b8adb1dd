import { describe, expect, it } from 'vitest';
import { releasesFrom } from '../../../src/audit/releases.js';
import type { Leaf, LeafOf } from '../../../src/log/leaves.js';
import { sha256Hex } from '../../../src/tuf/metadata.js';
import { activationFindings } from '../../../src/audit/proof.js';
import { activated, indexed, options, scheduled, tickStart, vendorMetadata } from './build.js';

type Indexed<T extends Leaf['type']> = Array<{ index: number; leaf: LeafOf<T> }>;

function run(leaves: Leaf[]) {
  const all = indexed(leaves);
  const of = <T extends Leaf['type']>(type: T) =>
    all.filter((l) => l.leaf.type === type) as Indexed<T>;
  return releasesFrom({
    scheduled: of('release.scheduled'),
    halted: of('release.halted'),
    activated: of('release.activated'),
    tickStart,
  });
}

const v1 = vendorMetadata(1, { 'acme/agent-1.2.3.tar': 'agent 1.2.3' });
const v2 = vendorMetadata(2, {
  'acme/agent-1.2.3.tar': 'agent 1.2.3',
  'acme/agent-1.2.4.tar': 'agent 1.2.4',
});

describe('releasesFrom', () => {
  it('an activation opening its schedule: the release, its new targets, no finding', () => {
    const leaves = [
      scheduled('acme', 1, 4, v1),
      activated('acme', 1, 4, 7, v1),
      scheduled('acme', 2, 9, v2),
      activated('acme', 2, 9, 12, v2),
    ];
    const out = run(leaves);
    expect(out.findings).toEqual([]);
    expect(out.releases).toEqual([
      {
        report: {
          id: 'acme/1',
          vendor: 'acme',
          metadataVersion: 1,
          title: 'agent 1.2.3',
          severity: 'high',
          releaseAt: tickStart(4),
          targets: ['acme/agent-1.2.3.tar'],
          scheduledLeaf: 0,
          scheduledTick: 4,
          halted: false,
          groups: {},
        },
        activationTick: 4,
        activation: { index: 1, leaf: leaves[1] },
      },
      {
        report: {
          id: 'acme/2',
          vendor: 'acme',
          metadataVersion: 2,
          title: 'agent 1.2.4',
          severity: 'high',
          releaseAt: tickStart(9),
          targets: ['acme/agent-1.2.4.tar'],
          scheduledLeaf: 2,
          scheduledTick: 9,
          halted: false,
          groups: {},
        },
        activationTick: 9,
        activation: { index: 3, leaf: leaves[3] },
      },
    ]);
  });

  it('commitment-mismatch (proof) when what went live does not hash to what was committed', () => {
    const swapped = vendorMetadata(1, { 'acme/agent-1.2.3.tar': 'agent 1.2.3-backdoor' });
    const out = run([scheduled('acme', 1, 4, v1), activated('acme', 1, 4, 7, swapped)]);
    expect(out.findings).toEqual([
      {
        kind: 'commitment-mismatch',
        class: 'proof',
        unfair: true,
        release: 'acme/1',
        message:
          'acme/1 went live with metadata that does not hash to the schedule committed at leaf 0',
        evidence: { scheduled_leaf: 0, activated_leaf: 1, committed: sha256Hex(Buffer.from(v1)) },
      },
    ]);
  });

  it('a schedule not yet activated is a release without activation, and no finding here', () => {
    const out = run([scheduled('acme', 1, 4, v1)]);
    expect(out.findings).toEqual([]);
    expect(out.releases).toHaveLength(1);
    expect(out.releases[0]!.activation).toBeUndefined();
    expect(out.releases[0]!.report.targets).toEqual([]);
  });

  it('a version scheduled again (an embargo move) is promised for its latest tick', () => {
    const out = run([scheduled('acme', 1, 4, v1), scheduled('acme', 1, 6, v1)]);
    expect(out.releases.map((r) => [r.report.scheduledLeaf, r.activationTick])).toEqual([[1, 6]]);
    expect(out.releases[0]!.report.releaseAt).toBe(tickStart(6));
  });

  describe('halts', () => {
    const a = { 'acme/agent-1.2.3.tar': 'agent 1.2.3' };
    const b = { 'acme/agent-1.2.4.tar': 'agent 1.2.4' };
    const halted = (version: number, tick: number, metadata: string): Leaf => ({
      type: 'release.halted',
      v: 2,
      vendor: 'acme',
      metadata_version: version,
      metadata_sha256: sha256Hex(Buffer.from(metadata)),
      activation_tick: tick,
    });
    const byId = (out: ReturnType<typeof run>) =>
      Object.fromEntries(out.releases.map((r) => [r.report.id, r]));

    it('a live release is withdrawn at the tick its halt activates, by that leaf', () => {
      const halt = vendorMetadata(2, {});
      const out = run([
        scheduled('acme', 1, 4, v1),
        activated('acme', 1, 4, 7, v1),
        halted(2, 9, halt),
        activated('acme', 2, 9, 8, halt),
      ]);
      expect(out.findings).toEqual([]);
      expect(out.releases[0]!.report).toMatchObject({
        id: 'acme/1',
        halted: true,
        withdrawn: {
          tick: 9,
          tickStart: tickStart(9),
          metadataVersion: 2,
          leaf: 3,
          beforeLive: false,
        },
      });
      // Until the halt activates, it is live.
      expect(
        run([scheduled('acme', 1, 4, v1), activated('acme', 1, 4, 7, v1), halted(2, 9, halt)])
          .releases[0]!.report.halted,
      ).toBe(false);
    });

    it('a halt sharing its tick with a pending release withdraws the live one; the pending one goes live in it', () => {
      const live = vendorMetadata(1, a);
      const pending = vendorMetadata(2, { ...a, ...b });
      const halt = vendorMetadata(3, b);
      const leaves = [
        scheduled('acme', 1, 4, live),
        activated('acme', 1, 4, 7, live),
        scheduled('acme', 2, 9, pending),
        halted(3, 9, halt),
        // The node logs only the version live at tick 9: the halt, carrying the pending release.
        activated('acme', 3, 9, 8, halt),
      ];
      const out = run(leaves);
      const r = byId(out);
      expect(r['acme/1']!.report).toMatchObject({
        halted: true,
        withdrawn: { tick: 9, metadataVersion: 3, leaf: 4, beforeLive: false },
      });
      expect(r['acme/2']!.report).toMatchObject({
        halted: false,
        carriedBy: 3,
        targets: ['acme/agent-1.2.4.tar'],
      });
      expect(r['acme/2']!.report.withdrawn).toBeUndefined();
      expect(r['acme/2']!.activation?.index).toBe(4);
    });

    it('a pending release halted before its tick was withdrawn before it was ever live', () => {
      const halt = vendorMetadata(2, {});
      const out = run([
        scheduled('acme', 1, 9, v1),
        halted(2, 6, halt),
        activated('acme', 2, 6, 5, halt),
      ]);
      expect(out.releases[0]!.report).toMatchObject({
        halted: true,
        withdrawn: { tick: 6, metadataVersion: 2, leaf: 2, beforeLive: true },
      });
      expect(out.releases[0]!.activation).toBeUndefined();
    });

    it('two releases at one tick: the node logs only the later, and the earlier went live inside it (no activation-missing)', () => {
      const first = vendorMetadata(1, a);
      const second = vendorMetadata(2, { ...a, ...b });
      const out = run([
        scheduled('acme', 1, 9, first),
        scheduled('acme', 2, 9, second),
        activated('acme', 2, 9, 8, second),
      ]);
      const r = byId(out);
      expect(r['acme/1']!.report).toMatchObject({ halted: false, carriedBy: 2 });
      expect(r['acme/1']!.activation?.index).toBe(2);
      const findings = activationFindings({
        release: r['acme/1']!,
        now: tickStart(9) + 3_600_000,
        options: options(),
        tickStart,
      });
      expect(findings).toEqual([]);
    });

    it('a halt is held to its commitment too (commitment-mismatch, proof)', () => {
      const halt = vendorMetadata(2, {});
      const other = vendorMetadata(2, {});
      const out = run([
        scheduled('acme', 1, 4, v1),
        activated('acme', 1, 4, 7, v1),
        halted(2, 9, halt),
        activated('acme', 2, 9, 8, other),
      ]);
      expect(out.findings.map((f) => [f.kind, f.release, f.evidence])).toEqual([
        [
          'commitment-mismatch',
          'acme/2',
          { scheduled_leaf: 2, activated_leaf: 3, committed: sha256Hex(Buffer.from(halt)) },
        ],
      ]);
    });
  });

  it('a v1 schedule: release time and targets from the leaf, no commitment to check', () => {
    const out = run([
      {
        type: 'release.scheduled',
        v: 1,
        vendor: 'acme',
        metadata_version: 1,
        metadata_sha256: sha256Hex(Buffer.from('whatever')),
        release_at: '2026-03-01T00:00:12Z',
        activation_tick: 4,
        targets: {
          'acme/a.tar': {
            sha256: sha256Hex(Buffer.from('a')),
            length: 1,
            product: 'agent',
            version: '1.0.0',
            platform: 'any',
          },
        },
      },
    ]);
    expect(out.findings).toEqual([]);
    expect(out.releases[0]!.report).toMatchObject({
      releaseAt: Date.parse('2026-03-01T00:00:12Z'),
      targets: ['acme/a.tar'],
      title: 'agent 1.0.0',
    });
  });
});
