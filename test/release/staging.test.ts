import { describe, expect, it } from 'vitest';
import { errorCode } from '../helpers/errors.js';
import { type StagingInput, planStaging } from '../../src/release/staging.js';
import { buildHalt, buildRelease } from '../../src/publish/build.js';
import type { Manifest } from '../../src/publish/manifest.js';
import { generateKeyPair, tufKey } from '../../src/tuf/keys.js';
import { type TargetsSigned, signEnvelope } from '../../src/tuf/metadata.js';
import { isoSeconds } from '../../src/tuf/time.js';

const now = Date.UTC(2026, 10, 22, 12, 0, 0);
const key = generateKeyPair();
const manifest: Manifest = {
  vendor: 'acme',
  product: 'agent',
  version: '2.0.1',
  channel: 'stable',
  severity: 'high',
  cves: [],
  applies_to: '<2.0.1',
  release_at: '+1m',
  artifacts: [],
};
const empty: TargetsSigned = {
  _type: 'targets',
  spec_version: '1.0.31',
  version: 1,
  expires: isoSeconds(now + 9e9),
  targets: {},
};
const art = (name: string) => ({
  platform: 'linux-x64',
  name,
  path: '',
  length: 3,
  sha256: name
    .padEnd(64, '0')
    .replace(/[^0-9a-f]/g, 'a')
    .slice(0, 64),
});

function input(
  previous: TargetsSigned,
  upload: ReturnType<typeof buildRelease>,
  at = now,
): StagingInput {
  return {
    vendor: 'acme',
    vendorKey: tufKey(key.publicKey),
    previous,
    upload,
    now: at,
    minLeadMs: 30_000,
    maxHorizonMs: 90 * 86_400_000,
    blobLength: () => 3,
    productOwner: () => undefined,
    boundTarget: () => undefined,
  };
}

describe('staging rules', () => {
  const release = (prev: TargetsSigned, name: string, at: number, version = '2.0.1') =>
    buildRelease({
      manifest: { ...manifest, version },
      artifacts: [art(name)],
      releaseAt: at,
      previous: prev,
      vendorKey: key,
      now,
    });

  it('a release takes effect at its release_at', () => {
    const up = release(empty, 'a.sh', now + 60_000);
    expect(planStaging(input(empty, up))).toMatchObject({
      kind: 'release',
      effectiveAt: now + 60_000,
      added: ['acme/a.sh'],
    });
  });

  it('a halt of a pending release takes effect one lead time ahead, before the release would have', () => {
    const pending = release(empty, 'a.sh', now + 3_600_000).signed;
    const { envelope } = buildHalt({
      vendor: 'acme',
      version: '2.0.1',
      previous: pending,
      vendorKey: key,
      now,
    });
    expect(planStaging(input(pending, envelope))).toMatchObject({
      kind: 'halt',
      effectiveAt: now + 30_000,
      removed: ['acme/a.sh'],
    });
  });

  it('refuses a release scheduled before a pending one (it would be delayed, breaking its promised tick)', () => {
    const pending = release(empty, 'a.sh', now + 3_600_000).signed;
    expect(
      errorCode(() => planStaging(input(pending, release(pending, 'b.sh', now + 60_000, '2.0.2')))),
    ).toBe('RELEASE_INVALID');
  });

  it('refuses changing the content of a published target', () => {
    const first = release(empty, 'a.sh', now + 60_000).signed; // version 2
    const info = first.targets['acme/a.sh']!;
    const changed = signEnvelope(
      {
        ...first,
        version: 3,
        targets: { 'acme/a.sh': { ...info, hashes: { sha256: 'f'.repeat(64) } } },
      },
      [key],
    );
    expect(errorCode(() => planStaging(input(first, changed)))).toBe('TARGET_IMMUTABLE');
  });

  it('refuses metadata that expires within a day', () => {
    const up = release(empty, 'a.sh', now + 60_000);
    expect(errorCode(() => planStaging(input(empty, up, now + 365 * 86_400_000)))).toBe(
      'METADATA_INVALID',
    );
  });

  describe('vendor isolation', () => {
    const up = () => release(empty, 'a.sh', now + 60_000);
    it("refuses a target that claims another vendor's product", () => {
      expect(
        errorCode(() => planStaging({ ...input(empty, up()), productOwner: () => 'quill' })),
      ).toBe('PRODUCT_OWNED');
    });
    it('claims a new product and a new path with the version that first names them', () => {
      expect(planStaging(input(empty, up())).claims).toEqual({
        products: ['agent'],
        paths: [{ path: 'acme/a.sh', sha256: art('a.sh').sha256, length: 3 }],
      });
      expect(
        planStaging({ ...input(empty, up()), productOwner: () => 'acme' }).claims.products,
      ).toEqual([]);
    });
    it('refuses a path that once held other bytes, even in a halted version', () => {
      expect(
        errorCode(() =>
          planStaging({
            ...input(empty, up()),
            boundTarget: () => ({ sha256: 'f'.repeat(64), length: 3 }),
          }),
        ),
      ).toBe('TARGET_IMMUTABLE');
      expect(
        planStaging({
          ...input(empty, up()),
          boundTarget: () => ({ sha256: art('a.sh').sha256, length: 3 }),
        }).claims.paths,
      ).toEqual([]);
    });
    it('refuses bytes the vendor did not upload itself', () => {
      expect(
        errorCode(() => planStaging({ ...input(empty, up()), blobLength: () => undefined })),
      ).toBe('BLOB_MISSING');
    });
  });

  describe('release_at bounds', () => {
    const refusal = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error as { code: string; message: string };
      }
      throw new Error('not refused');
    };
    it('refuses a release further ahead than the horizon, naming the field', () => {
      const e = refusal(() =>
        planStaging(input(empty, release(empty, 'a.sh', now + 91 * 86_400_000))),
      );
      expect(e.code).toBe('RELEASE_TOO_LATE');
      expect(e.message).toMatch(/^release_at: at most 90 days ahead/);
    });
    it('refuses a release after the metadata expires', () => {
      const up = release(empty, 'a.sh', now + 60_000);
      const late = signEnvelope(
        {
          ...up.signed,
          expires: isoSeconds(now + 2 * 86_400_000),
          targets: {
            'acme/a.sh': {
              ...up.signed.targets['acme/a.sh']!,
              custom: {
                ...up.signed.targets['acme/a.sh']!.custom!,
                release_at: isoSeconds(now + 3 * 86_400_000),
              },
            },
          },
        },
        [key],
      );
      expect(refusal(() => planStaging(input(empty, late))).code).toBe('RELEASE_TOO_LATE');
    });
    it('refuses a release sooner than the lead time, naming the field', () => {
      expect(
        refusal(() => planStaging(input(empty, release(empty, 'a.sh', now + 10_000)))).message,
      ).toMatch(/^release_at: /);
    });
  });
});
