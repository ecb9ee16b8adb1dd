import semver from 'semver';
import type { PatchFacts, TargetInfo } from '../tuf/metadata.js';

export interface Wanted {
  product: string;
  platform: string;
  channel: string;
  currentVersion: string;
}

export interface Candidate {
  path: string;
  info: TargetInfo & { custom: PatchFacts };
}

/**
 * Picks the patch to install: same product, this platform (or "any"), this channel, an
 * `applies_to` range that holds the current version, strictly newer than it (never a downgrade);
 * the highest version wins. Returns every artifact of that version for this platform.
 */
export function selectPatch(targets: Iterable<[string, TargetInfo]>, wanted: Wanted): Candidate[] {
  const current = semver.valid(semver.coerce(wanted.currentVersion)) ?? '0.0.0';
  const byVersion = new Map<string, Candidate[]>();
  for (const [path, info] of targets) {
    const c = info.custom;
    if (!c || c.product !== wanted.product || c.channel !== wanted.channel) continue;
    if (c.advisory !== undefined) continue; // the fix's advisory, not a patch to install
    if (c.rollout_action !== undefined) continue; // a staged rollout's control, not a patch
    if (c.platform !== wanted.platform && c.platform !== 'any') continue;
    const version = semver.valid(c.version);
    if (!version || !semver.gt(version, current)) continue;
    if (!semver.validRange(c.applies_to) || !semver.satisfies(current, c.applies_to)) continue;
    byVersion.set(version, [
      ...(byVersion.get(version) ?? []),
      { path, info: info as Candidate['info'] },
    ]);
  }
  const best = [...byVersion.keys()].sort(semver.rcompare)[0];
  return best ? (byVersion.get(best) ?? []).sort((a, b) => a.path.localeCompare(b.path)) : [];
}

/** Why nothing was picked, for the one line the agent prints. */
export function whyNot(
  targets: Iterable<[string, TargetInfo]>,
  wanted: Wanted,
  vendor: string,
): string {
  const all = [...targets].filter(
    ([, t]) => t.custom?.product === wanted.product && t.custom.rollout_action === undefined,
  );
  if (all.length === 0) return `no patch for product ${wanted.product} signed by vendor ${vendor}`;
  const newer = all.filter(
    ([, t]) =>
      semver.valid(t.custom?.version ?? '') &&
      semver.gt(t.custom!.version, semver.coerce(wanted.currentVersion) ?? '0.0.0'),
  );
  if (newer.length === 0)
    return `${wanted.product} ${wanted.currentVersion} is up to date (never downgrading)`;
  return `no ${wanted.product} patch for platform ${wanted.platform}, channel ${wanted.channel} applies to ${wanted.currentVersion}`;
}
