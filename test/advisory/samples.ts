import type { AdvisoryInput } from '../../src/advisory/input.js';
import type { AdvisoryRelease } from '../../src/advisory/release.js';

/** A full advisory: every optional part present. */
export const fullAdvisory: AdvisoryInput = {
  id: 'ACME-2026-0001',
  title: 'Remote code execution in acme-agent',
  namespace: 'https://acme.example',
  cves: [
    {
      id: 'CVE-2026-4242',
      title: 'Heap overflow in the update parser',
      description: 'A crafted update header overflows a heap buffer.\nNo authentication is needed.',
      cvss_v3: { vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', score: 9.8 },
    },
    {
      id: 'CVE-2026-4243',
      cvss_v3: { vector: 'CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H' },
    },
  ],
  notes: [{ category: 'summary', title: 'Summary', text: 'Update acme-agent to 2.4.1.' }],
  references: [{ url: 'https://acme.example/security/ACME-2026-0001', summary: 'Vendor page' }],
  acknowledgments: [
    { names: ['Ada Lovelace'], organization: 'Analytical Engines', summary: 'found it' },
    { organization: 'CERT-EX' },
  ],
};

/** The least an advisory may say. */
export const bareAdvisory: AdvisoryInput = {
  id: 'ACME-2026-0002',
  title: 'Information disclosure in acme-agent',
  namespace: 'https://acme.example',
  cves: [
    { id: 'CVE-2026-5000', cvss_v3: { vector: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N' } },
  ],
  notes: [],
  references: [],
  acknowledgments: [],
};

const PUBLISHED = Date.parse('2026-12-06T14:00:00Z');

export const sampleReleases: Record<string, AdvisoryRelease> = {
  full: {
    advisory: fullAdvisory,
    fixes: [
      {
        vendor: 'acme',
        product: 'acme-agent',
        version: '2.4.1',
        applies_to: '>=2.0.0 <2.4.1',
        platforms: ['linux-x64', 'windows-x64'],
      },
    ],
    publisher: { category: 'vendor', name: 'acme' },
    publishedMs: PUBLISHED,
  },
  bare: {
    advisory: bareAdvisory,
    fixes: [
      {
        vendor: 'acme',
        product: 'acme-agent',
        version: '1.0.1',
        applies_to: '*',
        platforms: ['any'],
      },
    ],
    publisher: { category: 'vendor', name: 'acme' },
    publishedMs: PUBLISHED,
  },
  withdrawn: {
    advisory: fullAdvisory,
    fixes: [
      {
        vendor: 'acme',
        product: 'acme-agent',
        version: '3.1.2',
        applies_to: '^2.0.0 || >=3.0.0 <3.1.2',
        platforms: ['linux-x64'],
      },
    ],
    publisher: { category: 'vendor', name: 'acme' },
    publishedMs: PUBLISHED,
    withdrawnMs: PUBLISHED + 3_600_000,
  },
  coordinated: {
    advisory: { ...bareAdvisory, id: 'EMB-2026-7' },
    fixes: [
      {
        vendor: 'zeta',
        product: 'zeta-db',
        version: '9.0.3',
        applies_to: '<9.0.3',
        platforms: ['any'],
      },
      {
        vendor: 'acme',
        product: 'acme-agent',
        version: '2.4.2',
        applies_to: '>=1.0.0 <2.4.2',
        platforms: ['linux-x64'],
      },
      {
        vendor: 'acme',
        product: 'acme-lib',
        version: '0.3.0',
        applies_to: '~0.2.0',
        platforms: ['any'],
      },
    ],
    publisher: { category: 'coordinator', name: 'fairpatch operator' },
    publishedMs: PUBLISHED + 250,
  },
};
