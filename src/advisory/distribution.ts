import { createHash } from 'node:crypto';
import { TLP_FOLDER, TLP_LABEL, csafDocument, csafPath } from './csaf.js';
import { type AdvisoryRelease, isoTime } from './release.js';

// CSAF distribution (OASIS CSAF v2.0, section 7): provider-metadata.json (requirement 7) at the
// well-known URL (9), one ROLIE feed for the TLP:CLEAR documents (15), and a SHA-512 file beside
// each document (18). The role is csaf_provider: a trusted provider also signs with OpenPGP
// (requirements 19 and 20), and fairpatch signs with the vendor's Ed25519 key instead (`.sig`).

export const PROVIDER_METADATA_PATH = '/.well-known/csaf/provider-metadata.json';
export const ROLIE_FEED_PATH = `/.well-known/csaf/${TLP_FOLDER}/csaf-feed-tlp-clear.json`;
const CSAF_SCHEMA = 'https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json';

/** Requirement 18: the hash, two spaces, the file name (what `sha512sum -c` reads). */
export function sha512File(bytes: Uint8Array, fileName: string): string {
  return `${createHash('sha512').update(bytes).digest('hex')}  ${fileName}\n`;
}

/** Who runs the repository that distributes the vendors' advisories. */
export interface Distributor {
  name: string;
  namespace: string;
  /** The absolute base URL the documents are served under (no trailing slash). */
  baseUrl: string;
}

/** The newest change of any public advisory: when the feed and the provider metadata last changed. */
export function lastUpdatedMs(releases: readonly AdvisoryRelease[], fallbackMs: number): number {
  return releases.reduce(
    (latest, r) => Math.max(latest, r.withdrawnMs ?? r.publishedMs),
    fallbackMs,
  );
}

export function providerMetadata(
  distributor: Distributor,
  releases: readonly AdvisoryRelease[],
  fallbackMs: number,
) {
  return {
    canonical_url: `${distributor.baseUrl}${PROVIDER_METADATA_PATH}`,
    distributions: [
      {
        rolie: {
          feeds: [
            {
              summary: 'TLP:CLEAR advisories, each published at the tick of its fix',
              tlp_label: TLP_LABEL,
              url: `${distributor.baseUrl}${ROLIE_FEED_PATH}`,
            },
          ],
        },
      },
    ],
    last_updated: isoTime(lastUpdatedMs(releases, fallbackMs)),
    list_on_CSAF_aggregators: true,
    metadata_version: '2.0',
    mirror_on_CSAF_aggregators: true,
    publisher: { category: 'other', name: distributor.name, namespace: distributor.namespace },
    role: 'csaf_provider',
  };
}

/** ROLIE feed (RFC 8322 in JSON, as CSAF's requirement 15 shapes it), newest first. */
export function rolieFeed(
  distributor: Distributor,
  releases: readonly AdvisoryRelease[],
  fallbackMs: number,
  /** Whether a document has its vendor's signature file (a halt's revision, a joint one has not). */
  signed: (release: AdvisoryRelease) => boolean = () => true,
) {
  const entries = [...releases]
    .sort(
      (a, b) =>
        (b.withdrawnMs ?? b.publishedMs) - (a.withdrawnMs ?? a.publishedMs) ||
        a.advisory.id.localeCompare(b.advisory.id),
    )
    .map((release) => {
      const doc = csafDocument(release).document;
      const url = `${distributor.baseUrl}${csafPath(release)}`;
      return {
        id: doc.tracking.id,
        title: doc.title,
        link: [
          { rel: 'self', href: url },
          { rel: 'hash', href: `${url}.sha512` },
          ...(signed(release) ? [{ rel: 'signature', href: `${url}.sig` }] : []),
        ],
        published: doc.tracking.initial_release_date,
        updated: doc.tracking.current_release_date,
        content: { type: 'application/json', src: url },
        format: { schema: CSAF_SCHEMA, version: '2.0' },
      };
    });
  return {
    feed: {
      id: 'fairpatch-csaf-feed-tlp-clear',
      title: `${distributor.name} CSAF feed (TLP:CLEAR)`,
      link: [{ rel: 'self', href: `${distributor.baseUrl}${ROLIE_FEED_PATH}` }],
      category: [{ scheme: 'urn:ietf:params:rolie:category:information-type', term: 'csaf' }],
      updated: isoTime(lastUpdatedMs(releases, fallbackMs)),
      entry: entries,
    },
  };
}
