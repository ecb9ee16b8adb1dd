import type { LeafOf } from '../log/leaves.js';
import type { TargetsSigned } from '../tuf/metadata.js';
import { sha256Hex } from '../tuf/metadata.js';
import type { Finding, ReleaseReport, Withdrawal } from './report.js';
import { advisoriesOf } from './advisories.js';

type Indexed<T> = { index: number; leaf: T };
type Activation = Indexed<LeafOf<'release.activated'>>;

/** One activated vendor version, opened: which targets it carries and which it added. */
interface Opened {
  activation: Activation;
  targets: Record<string, { custom?: object }>;
  added: string[];
}

const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
const CVE = /^CVE-\d{4}-\d{4,}$/;
/** What a report lists at most: the schema bounds each target to 64, a version may carry many. */
const MAX_CVES_SHOWN = 64;

/**
 * The highest severity and the CVEs a version's added targets name in their custom fields. The
 * metadata is the vendor's, logged as served: anything not of the expected shape is skipped.
 */
export function advisoryOf(customs: ReadonlyArray<object | undefined>): {
  severity?: (typeof SEVERITIES)[number];
  cves?: string[];
} {
  let rank = -1;
  const cves = new Set<string>();
  for (const custom of customs) {
    const c = custom as Record<string, unknown> | undefined;
    const at = SEVERITIES.indexOf(c?.severity as (typeof SEVERITIES)[number]);
    rank = Math.max(rank, at);
    const list = Array.isArray(c?.cves) ? (c.cves as unknown[]) : [];
    for (const id of list)
      if (typeof id === 'string' && CVE.test(id) && cves.size < MAX_CVES_SHOWN) cves.add(id);
  }
  return {
    ...(rank >= 0 ? { severity: SEVERITIES[rank] } : {}),
    ...(cves.size > 0 ? { cves: [...cves].sort() } : {}),
  };
}

/**
 * Releases as the log committed them: the schedule (a commitment to the vendor metadata, before its
 * tick) and the activation that opens it. The commitment is checked here: metadata that went live
 * must hash to what was committed before the tick, or the schedule was not what was served. So is a
 * halt's. A release is withdrawn at the tick a later version of its vendor that no longer carries its
 * targets activated (a halt), read from that version's activation leaf.
 */
export function releasesFrom(input: {
  scheduled: Array<Indexed<LeafOf<'release.scheduled'>>>;
  halted: Array<Indexed<LeafOf<'release.halted'>>>;
  activated: Activation[];
  tickStart: (k: number) => number;
}): {
  releases: Array<{ report: ReleaseReport; activationTick: number; activation?: Activation }>;
  findings: Finding[];
} {
  const findings: Finding[] = [];
  const activations = new Map(
    input.activated.map((a) => [`${a.leaf.vendor}/${a.leaf.metadata_version}`, a]),
  );
  const opened = openActivations(input.activated);

  const releases: Array<{
    report: ReleaseReport;
    activationTick: number;
    activation?: Activation;
  }> = [];
  for (const { index, leaf } of latestOf(input.scheduled)) {
    const id = `${leaf.vendor}/${leaf.metadata_version}`;
    const releaseAt =
      leaf.v === 1 ? Date.parse(leaf.release_at) : input.tickStart(leaf.activation_tick);
    const vendorVersions = opened.get(leaf.vendor) ?? [];
    const own = activations.get(id);
    // Superseded before its own activation: by a later version active at its tick, or earlier.
    const superseding = own
      ? []
      : vendorVersions.filter(
          (o) =>
            o.activation.leaf.metadata_version > leaf.metadata_version &&
            o.activation.leaf.tick <= leaf.activation_tick,
        );
    // The version live at its tick, if it activated at exactly that tick and adds targets, carried
    // this release live (vendor metadata is cumulative); one before its tick can never carry it
    // (staging), so such a version withdrew it before it was served.
    const atTick = superseding.at(-1);
    const carrier =
      atTick?.activation.leaf.tick === leaf.activation_tick && atTick.added.length > 0
        ? atTick
        : undefined;
    const act = own ?? carrier?.activation;
    const live = act ? vendorVersions.find((o) => o.activation === act) : undefined;
    const customs = live?.added.map((p) => live.targets[p]?.custom) ?? [];
    const first = customs.find(Boolean) as Record<string, unknown> | undefined;
    const product = typeof first?.product === 'string' ? first.product : undefined;
    const version = typeof first?.version === 'string' ? first.version : '';
    const report: ReleaseReport = {
      id,
      vendor: leaf.vendor,
      metadataVersion: leaf.metadata_version,
      releaseAt,
      targets: leaf.v === 1 ? Object.keys(leaf.targets) : (live?.added ?? []),
      scheduledLeaf: index,
      scheduledTick: leaf.activation_tick,
      groups: {},
      ...(product
        ? { title: `${product} ${version}`.trim() }
        : leaf.v === 1
          ? titleOf(leaf.targets)
          : {}),
      ...advisoryOf(customs),
    };
    if (carrier) report.carriedBy = carrier.activation.leaf.metadata_version;
    const advisories = advisoriesOf(vendorVersions, live, id, input.tickStart);
    if (advisories.publications.length) report.advisories = advisories.publications;
    findings.push(...advisories.findings);
    const withdrawn =
      superseding[0] && !carrier
        ? withdrawal(superseding[0], true, input.tickStart)
        : act
          ? withdrawnAfter(vendorVersions, act, report.targets, input.tickStart)
          : undefined;
    report.halted = withdrawn !== undefined;
    if (withdrawn) report.withdrawn = withdrawn;
    if (
      own?.leaf.v === 2 &&
      sha256Hex(Buffer.from(own.leaf.metadata, 'utf8')) !== leaf.metadata_sha256
    )
      findings.push(mismatch(id, index, own.index, leaf.metadata_sha256));
    releases.push({
      report,
      activationTick: leaf.activation_tick,
      ...(act ? { activation: act } : {}),
    });
  }
  // A halt's activation opens its commitment as a release's does.
  for (const { index, leaf } of latestOf(input.halted)) {
    const id = `${leaf.vendor}/${leaf.metadata_version}`;
    const act = activations.get(id);
    if (
      leaf.v === 2 &&
      act?.leaf.v === 2 &&
      sha256Hex(Buffer.from(act.leaf.metadata, 'utf8')) !== leaf.metadata_sha256
    )
      findings.push(mismatch(id, index, act.index, leaf.metadata_sha256));
  }
  return { releases, findings };
}

/** A version an embargo moved is scheduled again for its new tick: the latest schedule is the promise. */
function latestOf<T extends { vendor: string; metadata_version: number }>(
  leaves: ReadonlyArray<Indexed<T>>,
): Array<Indexed<T>> {
  const latest = new Map<string, Indexed<T>>();
  for (const s of leaves) {
    const id = `${s.leaf.vendor}/${s.leaf.metadata_version}`;
    if ((latest.get(id)?.index ?? -1) < s.index) latest.set(id, s);
  }
  return [...latest.values()].sort((a, b) => a.index - b.index);
}

/** Per vendor, its activated versions in the order they went live, each with what it added. */
function openActivations(activated: readonly Activation[]): Map<string, Opened[]> {
  const out = new Map<string, Opened[]>();
  const ordered = [...activated].sort(
    (a, b) => a.leaf.tick - b.leaf.tick || a.leaf.metadata_version - b.leaf.metadata_version,
  );
  for (const a of ordered) {
    if (a.leaf.v !== 2) continue;
    let signed: TargetsSigned | undefined;
    try {
      signed = (JSON.parse(a.leaf.metadata) as { signed: TargetsSigned }).signed;
    } catch {
      signed = undefined;
    }
    const list = out.get(a.leaf.vendor) ?? [];
    out.set(a.leaf.vendor, list);
    const before = list.at(-1)?.targets ?? {};
    const targets = signed?.targets ?? {};
    list.push({
      activation: a,
      targets,
      added: Object.keys(targets).filter((p) => !(p in before)),
    });
  }
  return out;
}

/** The first later version of the vendor, live after `act`, that no longer carries `targets`. */
function withdrawnAfter(
  versions: readonly Opened[],
  act: Activation,
  targets: readonly string[],
  tickStart: (k: number) => number,
): Withdrawal | undefined {
  if (targets.length === 0) return undefined;
  const from = versions.findIndex((o) => o.activation === act);
  const by = versions.slice(from + 1).find((o) => targets.some((t) => !(t in o.targets)));
  return by ? withdrawal(by, false, tickStart) : undefined;
}

function withdrawal(by: Opened, beforeLive: boolean, tickStart: (k: number) => number): Withdrawal {
  const { tick, metadata_version } = by.activation.leaf;
  return {
    tick,
    tickStart: tickStart(tick),
    metadataVersion: metadata_version,
    leaf: by.activation.index,
    beforeLive,
  };
}

function mismatch(id: string, scheduled: number, activated: number, committed: string): Finding {
  return {
    kind: 'commitment-mismatch',
    class: 'proof',
    unfair: true,
    release: id,
    message: `${id} went live with metadata that does not hash to the schedule committed at leaf ${scheduled}`,
    // Both leaves are under the log's checkpoint: the commitment, and the vendor metadata served.
    evidence: { scheduled_leaf: scheduled, activated_leaf: activated, committed },
  };
}

function titleOf(targets: Record<string, { product: string; version: string }>): {
  title?: string;
} {
  const first = Object.values(targets)[0];
  return first ? { title: `${first.product} ${first.version}` } : {};
}
