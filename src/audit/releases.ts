import type { LeafOf } from '../log/leaves.js';
import type { TargetsSigned } from '../tuf/metadata.js';
import { sha256Hex } from '../tuf/metadata.js';
import type { Finding, ReleaseReport } from './report.js';

type Indexed<T> = { index: number; leaf: T };

/**
 * Releases as the log committed them: the schedule (a commitment to the vendor metadata, before its
 * tick) and the activation that opens it. The commitment is checked here: metadata that went live
 * must hash to what was committed before the tick, or the schedule was not what was served.
 */
export function releasesFrom(input: {
  scheduled: Array<Indexed<LeafOf<'release.scheduled'>>>;
  halted: Array<Indexed<LeafOf<'release.halted'>>>;
  activated: Array<Indexed<LeafOf<'release.activated'>>>;
  tickStart: (k: number) => number;
}): {
  releases: Array<{
    report: ReleaseReport;
    activationTick: number;
    activation?: Indexed<LeafOf<'release.activated'>>;
  }>;
  findings: Finding[];
} {
  const findings: Finding[] = [];
  const activations = new Map(
    input.activated.map((a) => [`${a.leaf.vendor}/${a.leaf.metadata_version}`, a]),
  );
  // What each vendor had live before a version: the new targets of a release are the difference.
  const live = new Map<
    string,
    Record<string, { custom?: { product?: string; version?: string } }>
  >();
  const ordered = [...input.activated].sort(
    (a, b) => a.leaf.tick - b.leaf.tick || a.leaf.metadata_version - b.leaf.metadata_version,
  );
  const targetsAt = new Map<string, { added: string[]; title?: string }>();
  for (const a of ordered) {
    if (a.leaf.v !== 2) continue;
    const id = `${a.leaf.vendor}/${a.leaf.metadata_version}`;
    let signed: TargetsSigned | undefined;
    try {
      signed = (JSON.parse(a.leaf.metadata) as { signed: TargetsSigned }).signed;
    } catch {
      signed = undefined;
    }
    const before = live.get(a.leaf.vendor) ?? {};
    const now = signed?.targets ?? {};
    const added = Object.keys(now).filter((p) => !(p in before));
    const first = added.map((p) => now[p]?.custom).find(Boolean);
    targetsAt.set(id, {
      added,
      ...(first?.product ? { title: `${first.product} ${first.version ?? ''}`.trim() } : {}),
    });
    live.set(a.leaf.vendor, now);
  }

  const releases: Array<{
    report: ReleaseReport;
    activationTick: number;
    activation?: Indexed<LeafOf<'release.activated'>>;
  }> = [];
  // A version an embargo moved is scheduled again for its new tick: the latest schedule is the promise.
  const latest = new Map<string, Indexed<LeafOf<'release.scheduled'>>>();
  for (const s of input.scheduled) {
    const id = `${s.leaf.vendor}/${s.leaf.metadata_version}`;
    if ((latest.get(id)?.index ?? -1) < s.index) latest.set(id, s);
  }
  for (const { index, leaf } of [...latest.values()].sort((a, b) => a.index - b.index)) {
    const id = `${leaf.vendor}/${leaf.metadata_version}`;
    const releaseAt =
      leaf.v === 1 ? Date.parse(leaf.release_at) : input.tickStart(leaf.activation_tick);
    const act = activations.get(id);
    const opened = targetsAt.get(id);
    const report: ReleaseReport = {
      id,
      vendor: leaf.vendor,
      metadataVersion: leaf.metadata_version,
      releaseAt,
      targets: leaf.v === 1 ? Object.keys(leaf.targets) : (opened?.added ?? []),
      scheduledLeaf: index,
      scheduledTick: leaf.activation_tick,
      groups: {},
      ...(opened?.title ? { title: opened.title } : leaf.v === 1 ? titleOf(leaf.targets) : {}),
    };
    report.halted = input.halted.some(
      (h) =>
        h.leaf.vendor === leaf.vendor &&
        h.leaf.metadata_version > leaf.metadata_version &&
        h.leaf.activation_tick <= leaf.activation_tick,
    );
    if (
      act?.leaf.v === 2 &&
      sha256Hex(Buffer.from(act.leaf.metadata, 'utf8')) !== leaf.metadata_sha256
    ) {
      findings.push({
        kind: 'commitment-mismatch',
        class: 'proof',
        unfair: true,
        release: id,
        message: `${id} went live with metadata that does not hash to the schedule committed at leaf ${index}`,
        evidence: {
          scheduled_leaf: index,
          activated_leaf: act.index,
          committed: leaf.metadata_sha256,
        },
      });
    }
    releases.push({
      report,
      activationTick: leaf.activation_tick,
      ...(act ? { activation: act } : {}),
    });
  }
  return { releases, findings };
}

function titleOf(targets: Record<string, { product: string; version: string }>): {
  title?: string;
} {
  const first = Object.values(targets)[0];
  return first ? { title: `${first.product} ${first.version}` } : {};
}
