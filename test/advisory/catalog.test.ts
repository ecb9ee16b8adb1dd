import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildAdvisoryFile } from '../../src/advisory/advisory-file.js';
import { advisoryTargetName } from '../../src/advisory/release.js';
import { AdvisoryCatalog } from '../../src/serving/advisory-catalog.js';
import type { CommittedState, StoredVersion } from '../../src/serving/state.js';
import { generateKeyPair } from '../../src/tuf/keys.js';
import type { TargetInfo } from '../../src/tuf/metadata.js';
import { bareAdvisory } from './samples.js';

// Which advisories are public at a tick, from the served vendor versions alone: published with the
// first version that carries them, withdrawn by the first later one that does not, one document per
// id (members of one tick together), and never one of a version that is not served yet.

const CONFIG = {
  epochMs: 0,
  tickMs: 1000,
  freshnessMs: 300_000,
  snapshotPeriodMs: 86_400_000,
  snapshotLifetimeMs: 86_400_000,
};
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const key = generateKeyPair();

/** A vendor's world: its files by hash, and its versions as a node holds them. */
function vendor(name: string, id: string) {
  const advisory = { ...bareAdvisory, id };
  const file = buildAdvisoryFile(
    {
      advisory,
      fixes: [],
      publisher: { category: 'vendor', name },
      publishedMs: 0,
    },
    key,
  );
  const facts = {
    product: `${name}-app`,
    version: '1.0.1',
    channel: 'stable',
    severity: 'high' as const,
    cves: ['CVE-2026-5000'],
    applies_to: '<1.0.1',
    release_at: '1970-01-01T00:00:10Z',
  };
  const fix: Record<string, TargetInfo> = {
    [`${name}/fix.sh`]: {
      length: 1,
      hashes: { sha256: sha('fix') },
      custom: { ...facts, platform: 'any' },
    },
    [`${name}/${advisoryTargetName(id)}`]: {
      length: file.length,
      hashes: { sha256: sha(file) },
      custom: { ...facts, platform: 'advisory', advisory: id },
    },
  };
  const version = (n: number, tick: number, targets: Record<string, TargetInfo>) => {
    const bytes = Buffer.from(JSON.stringify({ signed: { targets } }));
    const v: StoredVersion = {
      version: n,
      bytes,
      sha256: sha(bytes),
      length: bytes.length,
      effectiveAt: (tick - 1) * 1000,
      activationTick: tick,
    };
    return v;
  };
  return { file, fix, version };
}

function catalogOf(files: Buffer[]) {
  const byHash = new Map(files.map((f) => [sha(f), f]));
  return new AdvisoryCatalog({
    versionBytes: () => Promise.reject(new Error('every version is held')),
    blobBytes: (h) => Promise.resolve(byHash.get(h)),
  });
}

const state = (vendors: Record<string, StoredVersion[]>): CommittedState => ({
  config: CONFIG,
  roots: [],
  rootTicks: [1],
  topTargets: [],
  vendors: new Map(Object.entries(vendors)),
});

describe('the advisory catalog', () => {
  it('publishes at the first version carrying it and withdraws at the first that does not', async () => {
    const acme = vendor('acme', 'ACME-1');
    const s = state({
      acme: [acme.version(1, 1, {}), acme.version(2, 10, acme.fix), acme.version(3, 20, {})],
    });
    const catalog = catalogOf([acme.file]);
    expect(await catalog.publicAt(s, 9)).toEqual([]);
    const live = await catalog.publicAt(s, 10);
    expect(live.map((a) => [a.release.publishedMs, a.release.withdrawnMs])).toEqual([
      [9000, undefined],
    ]);
    const gone = await catalog.publicAt(s, 20);
    expect(gone.map((a) => [a.release.publishedMs, a.release.withdrawnMs])).toEqual([
      [9000, 19000],
    ]);
  });

  it('one id at one tick from two vendors is one coordinated advisory; a later or other-case one is not served', async () => {
    const acme = vendor('acme', 'EMB-7');
    const zeta = vendor('zeta', 'EMB-7');
    const late = vendor('late', 'EMB-7');
    const cased = vendor('cased', 'EMB-7x');
    const squat = vendor('squat', 'EMB-7X');
    const s = state({
      zeta: [zeta.version(1, 1, {}), zeta.version(2, 10, zeta.fix)],
      acme: [acme.version(1, 1, {}), acme.version(2, 10, acme.fix)],
      late: [late.version(1, 1, {}), late.version(2, 11, late.fix)],
      cased: [cased.version(1, 1, {}), cased.version(2, 12, cased.fix)],
      squat: [squat.version(1, 1, {}), squat.version(2, 13, squat.fix)],
    });
    const list = await catalogOf([
      acme.file,
      zeta.file,
      late.file,
      cased.file,
      squat.file,
    ]).publicAt(s, 20);
    expect(list.map((a) => [a.release.advisory.id, a.members])).toEqual([
      ['EMB-7', ['acme', 'zeta']],
      ['EMB-7x', ['cased']],
    ]);
    expect(list[0]!.release.publisher.category).toBe('coordinator');
    expect(list[0]!.release.fixes.map((f) => f.product)).toEqual(['acme-app', 'zeta-app']);
  });

  it('a version halted before its tick was never served, and its advisory never public', async () => {
    const acme = vendor('acme', 'ACME-2');
    // Version 2 was due at tick 10, but version 3 (a halt) went live at tick 5, before it.
    const s = state({
      acme: [acme.version(1, 1, {}), acme.version(2, 10, acme.fix), acme.version(3, 5, {})],
    });
    expect(await catalogOf([acme.file]).publicAt(s, 30)).toEqual([]);
  });
});
