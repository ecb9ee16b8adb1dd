import semver from 'semver';
import type { TargetInfo } from '../tuf/metadata.js';
import type { AdvisoryInput } from './input.js';

/** One product an advisory covers: the versions `applies_to` names are affected, `version` fixes them. */
export interface AdvisoryFix {
  vendor: string;
  product: string;
  /** The fixed version. */
  version: string;
  /** The affected versions, as the vendor signed them (a semver range). */
  applies_to: string;
  platforms: string[];
}

/** Everything an advisory's documents are rendered from; every node holds the same, so renders the same bytes. */
export interface AdvisoryRelease {
  advisory: AdvisoryInput;
  /** One per vendor and product: a coordinated release names several. */
  fixes: AdvisoryFix[];
  /** Who the CSAF document names as its publisher: the vendor, or the coordinator of an embargo. */
  publisher: { category: 'vendor' | 'coordinator'; name: string };
  /** The start of the tick at which the fix and the advisory went public. */
  publishedMs: number;
  /** The start of the tick at which a halt took the fix out again. */
  withdrawnMs?: number;
}

/**
 * The platform an advisory's own TUF target names. No agent runs on it, and agents skip targets
 * marked `advisory` besides, so the advisory is never offered as a patch.
 */
export const ADVISORY_PLATFORM = 'advisory';

/** The advisory's target file name under `<vendor>/`. */
export const advisoryTargetName = (id: string): string => `${id.toLowerCase()}.advisory.json`;

/**
 * The fix an advisory target describes, read from the same signed targets: every target of the
 * advisory's product and version that is not itself an advisory. Undefined when there is none.
 */
export function fixFromTargets(
  vendor: string,
  targets: Record<string, TargetInfo>,
  advisoryPath: string,
): AdvisoryFix | undefined {
  const facts = targets[advisoryPath]?.custom;
  if (!facts) return undefined;
  const platforms = Object.values(targets)
    .filter(
      (t) =>
        t.custom?.advisory === undefined &&
        t.custom?.product === facts.product &&
        t.custom.version === facts.version,
    )
    .map((t) => t.custom!.platform);
  if (platforms.length === 0) return undefined;
  return {
    vendor,
    product: facts.product,
    version: facts.version,
    applies_to: facts.applies_to,
    platforms: [...new Set(platforms)].sort(),
  };
}

/** Fixes in one order (vendor, product), so product ids and bytes never depend on who asked first. */
export function sortFixes(fixes: readonly AdvisoryFix[]): AdvisoryFix[] {
  return [...fixes].sort(
    (a, b) => a.vendor.localeCompare(b.vendor) || a.product.localeCompare(b.product),
  );
}

/** The lowest affected version, as OSV's `introduced` event wants it ("0": every version before the fix). */
export function introducedVersion(fix: AdvisoryFix): string {
  const min = semver.minVersion(fix.applies_to)?.version;
  return min === undefined || min === '0.0.0' ? '0' : min;
}

/**
 * The affected range as a `vers:semver` string (CSAF's preferred `product_version_range`) when
 * the range is one set of comparators; otherwise the vendor's range as it stands ("vers-like").
 */
export function versRange(appliesTo: string): string {
  const range = new semver.Range(appliesTo);
  if (range.set.length !== 1) return appliesTo;
  const comparators = range.set[0]!.map((c) => c.value).filter((v) => v !== '');
  if (comparators.length === 0) return 'vers:semver/*';
  const sorted = [...comparators].sort((a, b) =>
    semver.compare(a.replace(/^[<>=]+/, ''), b.replace(/^[<>=]+/, '')),
  );
  return `vers:semver/${sorted.join('|')}`;
}

/** A tick's start as CSAF and OSV write times: UTC, milliseconds only when a tick has them. */
export const isoTime = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');
