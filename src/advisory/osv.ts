import { cvss31 } from './cvss.js';
import { type AdvisoryRelease, introducedVersion, isoTime, sortFixes } from './release.js';

// An OSV record (OSV schema 1.7) of the same advisory. No OSV ecosystem names a vendor's own
// product, so `affected` carries no `package`: each entry is one product's SEMVER range, with the
// vendor and product in `database_specific`. OSV keeps the `x_` prefix for databases it does not
// aggregate, so the record's id is the advisory's under it.

export const OSV_SCHEMA_VERSION = '1.7.5';

export const osvId = (advisoryId: string): string => `x_${advisoryId}`;

export type OsvRecord = ReturnType<typeof osvRecord>;

export function osvRecord(release: AdvisoryRelease) {
  const { advisory } = release;
  const fixes = sortFixes(release.fixes);
  const published = isoTime(release.publishedMs);
  const withdrawn = release.withdrawnMs === undefined ? undefined : isoTime(release.withdrawnMs);
  // The highest score speaks for the record; each CVE keeps its own in the CSAF document.
  const worst = advisory.cves
    .map((c) => cvss31(c.cvss_v3.vector)!)
    .sort((a, b) => b.score - a.score)[0]!;
  const details = advisory.notes.map((n) => (n.title ? `${n.title}\n\n${n.text}` : n.text));
  return {
    schema_version: OSV_SCHEMA_VERSION,
    id: osvId(advisory.id),
    modified: withdrawn ?? published,
    published,
    ...(withdrawn ? { withdrawn } : {}),
    aliases: advisory.cves.map((c) => c.id),
    summary: advisory.title,
    ...(details.length ? { details: details.join('\n\n') } : {}),
    severity: [{ type: 'CVSS_V3', score: worst.vector }],
    affected: fixes.map((fix) => ({
      ranges: [
        {
          type: 'SEMVER',
          events: [{ introduced: introducedVersion(fix) }, { fixed: fix.version }],
        },
      ],
      database_specific: {
        vendor: fix.vendor,
        product: fix.product,
        applies_to: fix.applies_to,
        platforms: fix.platforms,
      },
    })),
    ...(advisory.references.length
      ? { references: advisory.references.map((r) => ({ type: 'ADVISORY', url: r.url })) }
      : {}),
    ...(advisory.acknowledgments.length
      ? {
          credits: advisory.acknowledgments.flatMap((a) =>
            (a.names ?? [a.organization!]).map((name) => ({ name })),
          ),
        }
      : {}),
    database_specific: { csaf_tracking_id: advisory.id },
  };
}

export function osvBytes(release: AdvisoryRelease): Buffer {
  return Buffer.from(`${JSON.stringify(osvRecord(release), null, 2)}\n`, 'utf8');
}

/** One line of `/osv/index.json`: what a consumer needs to decide whether to fetch the record. */
export function osvIndexEntry(release: AdvisoryRelease) {
  const record = osvRecord(release);
  return { id: record.id, aliases: record.aliases, modified: record.modified };
}
