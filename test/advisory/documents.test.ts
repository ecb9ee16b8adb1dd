import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ADVISORY_FILE_MAX_BYTES,
  buildAdvisoryFile,
  csafSignatureHolds,
  parseAdvisoryFile,
} from '../../src/advisory/advisory-file.js';
import { csafBytes, csafDocument, csafFileName, csafPath } from '../../src/advisory/csaf.js';
import { cvss31 } from '../../src/advisory/cvss.js';
import {
  PROVIDER_METADATA_PATH,
  ROLIE_FEED_PATH,
  providerMetadata,
  rolieFeed,
  sha512File,
} from '../../src/advisory/distribution.js';
import { advisoryInputSchema } from '../../src/advisory/input.js';
import { osvBytes, osvIndexEntry, osvRecord } from '../../src/advisory/osv.js';
import { fixFromTargets, versRange } from '../../src/advisory/release.js';
import { selectPatch } from '../../src/agent/select.js';
import { generateKeyPair } from '../../src/tuf/keys.js';
import type { TargetInfo } from '../../src/tuf/metadata.js';
import { fullAdvisory, sampleReleases } from './samples.js';
import { csafErrors, osvErrors } from './validators.js';

describe('CSAF 2.0 csaf_security_advisory documents', () => {
  it.each(Object.entries(sampleReleases))(
    '%s: passes the strict schema and every mandatory test with 0 errors',
    async (_name, release) => {
      expect(await csafErrors(JSON.parse(csafBytes(release).toString('utf8')))).toEqual([]);
    },
  );

  it('is TLP:CLEAR (CSAF 2.0 writes it WHITE), dated at the tick, with a vendor_fix', () => {
    const doc = csafDocument(sampleReleases.full!);
    expect(doc.document.distribution.tlp.label).toBe('WHITE');
    expect(doc.document.tracking.initial_release_date).toBe('2026-12-06T14:00:00Z');
    expect(doc.document.tracking.version).toBe('1');
    expect(doc.vulnerabilities.map((v) => v.cve)).toEqual(['CVE-2026-4242', 'CVE-2026-4243']);
    expect(doc.vulnerabilities[0]!.scores[0]!.cvss_v3.baseScore).toBe(9.8);
    expect(doc.vulnerabilities[1]!.scores[0]!.cvss_v3.baseScore).toBe(7.8);
    expect(doc.vulnerabilities[0]!.remediations[0]!.category).toBe('vendor_fix');
    expect(JSON.stringify(doc.product_tree)).toContain('vers:semver/>=2.0.0|<2.4.1');
  });

  it('a halt adds revision 2 at the halt tick', () => {
    const doc = csafDocument(sampleReleases.withdrawn!);
    expect(doc.document.tracking.version).toBe('2');
    expect(doc.document.tracking.revision_history.map((r) => r.date)).toEqual([
      '2026-12-06T14:00:00Z',
      '2026-12-06T15:00:00Z',
    ]);
    expect(doc.document.tracking.current_release_date).toBe('2026-12-06T15:00:00Z');
  });

  it('a coordinated release names every member product, the coordinator as publisher', () => {
    const doc = csafDocument(sampleReleases.coordinated!);
    expect(doc.product_tree.branches.map((b) => b.name)).toEqual(['acme', 'zeta']);
    expect(doc.vulnerabilities[0]!.product_status.fixed).toEqual([
      'acme:acme-agent:2.4.2',
      'acme:acme-lib:0.3.0',
      'zeta:zeta-db:9.0.3',
    ]);
    expect(doc.document.publisher.category).toBe('coordinator');
  });

  it('file name and folder follow sections 5.1 and 7.1.11', () => {
    expect(csafFileName('ACME-2026-0001')).toBe('acme-2026-0001.json');
    expect(csafPath(sampleReleases.full!)).toBe('/.well-known/csaf/clear/2026/acme-2026-0001.json');
  });

  it('renders the same bytes every time (every node serves one document)', () => {
    expect(csafBytes(sampleReleases.coordinated!)).toEqual(
      csafBytes(structuredClone(sampleReleases.coordinated!)),
    );
  });
});

describe('OSV records', () => {
  it.each(Object.entries(sampleReleases))('%s: validates against the OSV schema', (_n, release) => {
    expect(osvErrors(JSON.parse(osvBytes(release).toString('utf8')))).toEqual([]);
  });

  it('published is the tick, aliases the CVEs, ranges from applies_to and version', () => {
    const record = osvRecord(sampleReleases.full!);
    expect(record).toMatchObject({
      id: 'x_ACME-2026-0001',
      published: '2026-12-06T14:00:00Z',
      modified: '2026-12-06T14:00:00Z',
      aliases: ['CVE-2026-4242', 'CVE-2026-4243'],
      severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
    });
    expect(record.affected[0]!.ranges[0]!.events).toEqual([
      { introduced: '2.0.0' },
      { fixed: '2.4.1' },
    ]);
    expect('withdrawn' in record).toBe(false);
    expect(osvRecord(sampleReleases.bare!).affected[0]!.ranges[0]!.events[0]).toEqual({
      introduced: '0',
    });
  });

  it('a halt sets withdrawn and modified to the halt tick', () => {
    expect(osvRecord(sampleReleases.withdrawn!)).toMatchObject({
      withdrawn: '2026-12-06T15:00:00Z',
      modified: '2026-12-06T15:00:00Z',
    });
    expect(osvIndexEntry(sampleReleases.withdrawn!)).toEqual({
      id: 'x_ACME-2026-0001',
      aliases: ['CVE-2026-4242', 'CVE-2026-4243'],
      modified: '2026-12-06T15:00:00Z',
    });
  });

  it('a tick with milliseconds keeps them (OSV and CSAF both take fractions)', () => {
    expect(osvRecord(sampleReleases.coordinated!).published).toBe('2026-12-06T14:00:00.250Z');
  });
});

describe('the validators see a broken document', () => {
  it('a wrong score, a TLP 2.0 label, a revision the history lacks: CSAF errors', async () => {
    const doc = JSON.parse(csafBytes(sampleReleases.full!).toString('utf8'));
    doc.vulnerabilities[0].scores[0].cvss_v3.baseScore = 5;
    doc.document.distribution.tlp.label = 'CLEAR';
    doc.document.tracking.version = '3';
    const errors = (await csafErrors(doc)).join('\n');
    expect(errors).toContain('mandatoryTest_6_1_9');
    expect(errors).toContain('csaf_2_0_strict');
    expect(errors).toContain('mandatoryTest_6_1_16');
  });

  it('an id without a database prefix: OSV errors', () => {
    const record = JSON.parse(osvBytes(sampleReleases.full!).toString('utf8'));
    expect(osvErrors({ ...record, id: 'ACME-2026-0001' })).not.toEqual([]);
    expect(osvErrors({ ...record, published: '2026-12-06 14:00' })).not.toEqual([]);
  });
});

describe('CVSS v3.1 base scores', () => {
  it.each([
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8, 'CRITICAL'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H', 10, 'CRITICAL'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N', 6.1, 'MEDIUM'],
    ['CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', 7.8, 'HIGH'],
    ['CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N', 5.9, 'MEDIUM'],
    ['CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N', 1.6, 'LOW'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N', 0, 'NONE'],
  ])('%s is %s', (vector, score, severity) => {
    expect(cvss31(vector)).toEqual({ vector, score, severity });
  });

  it('refuses anything but the eight base metrics in order', () => {
    expect(cvss31('CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H')).toBeUndefined();
    expect(cvss31('CVSS:3.1/AC:L/AV:N/PR:N/UI:N/S:U/C:H/I:H/A:H')).toBeUndefined();
    expect(cvss31('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:F')).toBeUndefined();
  });
});

describe('the advisory input', () => {
  const parse = (patch: object) => advisoryInputSchema.safeParse({ ...fullAdvisory, ...patch });

  it('takes the sample and fills the defaults', () => {
    expect(parse({}).success).toBe(true);
    const bare = advisoryInputSchema.parse({
      id: 'X1-1',
      title: 't',
      namespace: 'https://x.example',
      cves: [
        {
          id: 'CVE-2026-1234',
          cvss_v3: { vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' },
        },
      ],
    });
    expect(bare).toMatchObject({ notes: [], references: [], acknowledgments: [] });
  });

  it.each([
    [
      'a score the vector does not give',
      {
        cves: [
          {
            ...fullAdvisory.cves[0]!,
            cvss_v3: { vector: fullAdvisory.cves[0]!.cvss_v3.vector, score: 9.9 },
          },
        ],
      },
    ],
    ['a control character in the title', { title: 'a\u0007b' }],
    ['a newline in the title', { title: 'a\nb' }],
    ['an id with a slash', { id: 'ACME-../x' }],
    ['an http URL', { namespace: 'http://acme.example' }],
    ['a CVE twice', { cves: [fullAdvisory.cves[0]!, fullAdvisory.cves[0]!] }],
    ['no CVE', { cves: [] }],
    ['an unknown field', { severity: 'high' }],
    ['a 201-character title', { title: 'x'.repeat(201) }],
  ])('refuses %s', (_what, patch) => {
    expect(parse(patch).success).toBe(false);
  });
});

describe('the advisory file (the TUF target)', () => {
  const vendorKey = generateKeyPair();
  const publicHex = Buffer.from(vendorKey.publicKey).toString('hex');

  it('carries the vendor signature over the document every node renders at the tick', () => {
    const release = sampleReleases.full!;
    const file = parseAdvisoryFile(buildAdvisoryFile(release, vendorKey));
    expect(file.advisory).toEqual(release.advisory);
    expect(csafSignatureHolds(release, file.csaf_signature, publicHex)).toBe(true);
    // A document dated at another tick is not the one the vendor signed.
    expect(
      csafSignatureHolds(
        { ...release, publishedMs: release.publishedMs + 1000 },
        file.csaf_signature,
        publicHex,
      ),
    ).toBe(false);
    // Another key's signature is not the vendor's.
    const other = Buffer.from(generateKeyPair().publicKey).toString('hex');
    expect(csafSignatureHolds(release, file.csaf_signature, other)).toBe(false);
  });

  it.each([
    ['not JSON', Buffer.from('{')],
    ['an unknown field', Buffer.from(JSON.stringify({ fairpatch_advisory: 1, extra: 1 }))],
    ['too many bytes', Buffer.alloc(ADVISORY_FILE_MAX_BYTES + 1, 0x20)],
  ])('refuses %s with ADVISORY_INVALID', (_what, bytes) => {
    expect(() => parseAdvisoryFile(bytes)).toThrow(
      expect.objectContaining({ code: 'ADVISORY_INVALID' }),
    );
  });
});

describe('distribution: provider metadata, ROLIE feed, hashes', () => {
  const distributor = {
    name: 'fairpatch test repository',
    namespace: 'https://patches.example',
    baseUrl: 'https://patches.example',
  };
  const releases = [sampleReleases.full!, sampleReleases.withdrawn!];

  it('provider-metadata.json names the ROLIE feed and the time of the last change', () => {
    const metadata = providerMetadata(distributor, releases, 0);
    expect(metadata.canonical_url).toBe(`https://patches.example${PROVIDER_METADATA_PATH}`);
    expect(metadata.role).toBe('csaf_provider');
    expect(metadata.last_updated).toBe('2026-12-06T15:00:00Z');
    expect(metadata.distributions[0]!.rolie.feeds[0]!.url).toBe(
      `https://patches.example${ROLIE_FEED_PATH}`,
    );
  });

  it('the feed lists each document with its hash and signature links, newest change first', () => {
    const { feed } = rolieFeed(distributor, releases, 0);
    expect(feed.entry.map((e) => e.updated)).toEqual([
      '2026-12-06T15:00:00Z',
      '2026-12-06T14:00:00Z',
    ]);
    expect(feed.entry[1]!.link.map((l) => l.href)).toEqual([
      'https://patches.example/.well-known/csaf/clear/2026/acme-2026-0001.json',
      'https://patches.example/.well-known/csaf/clear/2026/acme-2026-0001.json.sha512',
      'https://patches.example/.well-known/csaf/clear/2026/acme-2026-0001.json.sig',
    ]);
    expect(rolieFeed(distributor, [], 5000).feed).toMatchObject({
      entry: [],
      updated: '1970-01-01T00:00:05Z',
    });
  });

  it('the .sha512 file is what sha512sum -c reads', () => {
    const bytes = csafBytes(sampleReleases.full!);
    expect(sha512File(bytes, 'acme-2026-0001.json')).toBe(
      `${createHash('sha512').update(bytes).digest('hex')}  acme-2026-0001.json\n`,
    );
  });
});

describe('the fix an advisory target describes', () => {
  const facts = {
    product: 'acme-agent',
    version: '2.4.1',
    channel: 'stable',
    severity: 'critical' as const,
    cves: ['CVE-2026-4242'],
    applies_to: '>=2.0.0 <2.4.1',
    release_at: '2026-12-06T14:00:00Z',
  };
  const target = (platform: string, extra: object = {}): TargetInfo => ({
    length: 1,
    hashes: { sha256: '0'.repeat(64) },
    custom: { ...facts, platform, ...extra },
  });

  it('is every non-advisory target of its product and version in the same metadata', () => {
    const targets = {
      'acme/a-linux': target('linux-x64'),
      'acme/a-win': target('windows-x64'),
      'acme/old': target('linux-x64', { version: '2.4.0' }),
      'acme/acme-2026-0001.advisory.json': target('advisory', { advisory: 'ACME-2026-0001' }),
    };
    expect(fixFromTargets('acme', targets, 'acme/acme-2026-0001.advisory.json')).toEqual({
      vendor: 'acme',
      product: 'acme-agent',
      version: '2.4.1',
      applies_to: '>=2.0.0 <2.4.1',
      platforms: ['linux-x64', 'windows-x64'],
    });
    expect(
      fixFromTargets(
        'acme',
        { 'acme/x.advisory.json': targets['acme/acme-2026-0001.advisory.json'] },
        'acme/x.advisory.json',
      ),
    ).toBeUndefined();
  });

  it('an agent never takes an advisory target for a patch, whatever its platform', () => {
    const targets: Array<[string, TargetInfo]> = [
      ['acme/acme-2026-0001.advisory.json', target('any', { advisory: 'ACME-2026-0001' })],
    ];
    const wanted = { product: 'acme-agent', platform: 'linux-x64', channel: 'stable' };
    expect(selectPatch(targets, { ...wanted, currentVersion: '2.0.0' })).toEqual([]);
  });

  it('writes one comparator set as vers, anything else as the vendor wrote it', () => {
    expect(versRange('>=2.0.0 <2.4.1')).toBe('vers:semver/>=2.0.0|<2.4.1');
    expect(versRange('*')).toBe('vers:semver/*');
    expect(versRange('^1.0.0 || ^2.0.0')).toBe('^1.0.0 || ^2.0.0');
  });
});
