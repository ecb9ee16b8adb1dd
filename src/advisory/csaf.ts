import { cvss31 } from './cvss.js';
import {
  type AdvisoryFix,
  type AdvisoryRelease,
  isoTime,
  sortFixes,
  versRange,
} from './release.js';

// A CSAF 2.0 document of the csaf_security_advisory profile (OASIS CSAF v2.0, section 4.5), rendered
// from what the vendor wrote and what its release signed. It is a pure function of the release, so
// every node renders the same bytes, and the vendor can render (and sign) them before the tick.

/** CSAF 2.0 knows TLP 1.0 only: its WHITE is TLP 2.0's CLEAR (no restriction on disclosure). */
export const TLP_LABEL = 'WHITE';
/** The folder of the distribution (TLP 2.0's name of the label): /.well-known/csaf/clear/<year>/. */
export const TLP_FOLDER = 'clear';

/** CSAF section 5.1: the tracking id in lowercase, anything but `+`, `-`, a-z, 0-9 as `_`. */
export function csafFileName(trackingId: string): string {
  return `${trackingId.toLowerCase().replace(/[^+\-a-z0-9]+/g, '_')}.json`;
}

/** Requirement 11: one folder per year, the year of the document's initial release. */
export function csafPath(release: Pick<AdvisoryRelease, 'advisory' | 'publishedMs'>): string {
  const year = new Date(release.publishedMs).getUTCFullYear();
  return `/.well-known/csaf/${TLP_FOLDER}/${year}/${csafFileName(release.advisory.id)}`;
}

const affectedId = (fix: AdvisoryFix) => `${fix.vendor}:${fix.product}:affected`;
const fixedId = (fix: AdvisoryFix) => `${fix.vendor}:${fix.product}:${fix.version}`;

function productTree(fixes: AdvisoryFix[]) {
  const vendors = [...new Set(fixes.map((f) => f.vendor))];
  return {
    branches: vendors.map((vendor) => ({
      category: 'vendor',
      name: vendor,
      branches: fixes
        .filter((f) => f.vendor === vendor)
        .map((fix) => ({
          category: 'product_name',
          name: fix.product,
          branches: [
            {
              category: 'product_version_range',
              name: versRange(fix.applies_to),
              product: {
                product_id: affectedId(fix),
                name: `${fix.vendor} ${fix.product} ${fix.applies_to}`,
              },
            },
            {
              category: 'product_version',
              name: fix.version,
              product: {
                product_id: fixedId(fix),
                name: `${fix.vendor} ${fix.product} ${fix.version}`,
              },
            },
          ],
        })),
    })),
  };
}

function revisionHistory(release: AdvisoryRelease) {
  const revisions = [
    {
      number: '1',
      date: isoTime(release.publishedMs),
      summary: 'Initial release, at the tick the fix went live for every customer group.',
    },
  ];
  if (release.withdrawnMs !== undefined)
    revisions.push({
      number: '2',
      date: isoTime(release.withdrawnMs),
      summary: 'The fix was withdrawn (halted by its vendor): do not install it.',
    });
  return revisions;
}

export type CsafDocument = ReturnType<typeof csafDocument>;

export function csafDocument(release: AdvisoryRelease) {
  const { advisory } = release;
  const fixes = sortFixes(release.fixes);
  const revisions = revisionHistory(release);
  const latest = revisions[revisions.length - 1]!;
  const fixedIn = fixes
    .map((f) => `${f.vendor} ${f.product} ${f.version} (affected: ${f.applies_to})`)
    .join('; ');
  const notes = [
    ...advisory.notes.map((n) => ({
      category: n.category,
      text: n.text,
      ...(n.title ? { title: n.title } : {}),
    })),
    {
      category: 'general',
      title: 'Release',
      text: `Fixed in ${fixedIn}. The fix and this advisory were published through fairpatch at the same tick, for every customer group.`,
    },
    ...(release.withdrawnMs !== undefined
      ? [
          {
            category: 'general',
            title: 'Fix withdrawn',
            text: `The fix was withdrawn at ${isoTime(release.withdrawnMs)}. Agents no longer offer it; affected versions stay affected.`,
          },
        ]
      : []),
  ];
  return {
    document: {
      category: 'csaf_security_advisory',
      csaf_version: '2.0',
      title: advisory.title,
      lang: 'en',
      publisher: {
        category: release.publisher.category,
        name: release.publisher.name,
        namespace: advisory.namespace,
      },
      distribution: { tlp: { label: TLP_LABEL, url: 'https://www.first.org/tlp/' } },
      notes,
      ...(advisory.references.length
        ? {
            references: advisory.references.map((r) => ({
              category: 'external',
              summary: r.summary,
              url: r.url,
            })),
          }
        : {}),
      ...(advisory.acknowledgments.length
        ? {
            acknowledgments: advisory.acknowledgments.map((a) => ({
              ...(a.names ? { names: a.names } : {}),
              ...(a.organization ? { organization: a.organization } : {}),
              ...(a.summary ? { summary: a.summary } : {}),
            })),
          }
        : {}),
      tracking: {
        id: advisory.id,
        status: 'final',
        version: latest.number,
        initial_release_date: isoTime(release.publishedMs),
        current_release_date: latest.date,
        revision_history: revisions,
        generator: { engine: { name: 'fairpatch' } },
      },
    },
    product_tree: productTree(fixes),
    vulnerabilities: advisory.cves.map((cve) => {
      const score = cvss31(cve.cvss_v3.vector)!;
      return {
        cve: cve.id,
        ...(cve.title ? { title: cve.title } : {}),
        notes: [
          {
            category: 'description',
            text: cve.description ?? advisory.title,
          },
        ],
        product_status: {
          known_affected: fixes.map(affectedId),
          fixed: fixes.map(fixedId),
        },
        remediations: fixes.map((fix) => ({
          category: 'vendor_fix',
          date: isoTime(release.publishedMs),
          details: `Update ${fix.product} to ${fix.version} (${fix.platforms.join(', ')}).`,
          product_ids: [affectedId(fix)],
        })),
        scores: [
          {
            products: fixes.map(affectedId),
            cvss_v3: {
              version: '3.1',
              vectorString: score.vector,
              baseScore: score.score,
              baseSeverity: score.severity,
            },
          },
        ],
      };
    }),
  };
}

/** The bytes served and signed: one rendering, so the signature and the hash hold on every node. */
export function csafBytes(release: AdvisoryRelease): Buffer {
  return Buffer.from(`${JSON.stringify(csafDocument(release), null, 2)}\n`, 'utf8');
}
