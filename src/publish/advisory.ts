import { createHash } from 'node:crypto';
import { FairpatchError } from '../errors.js';
import { buildAdvisoryFile } from '../advisory/advisory-file.js';
import { ADVISORY_PLATFORM, advisoryTargetName, fixFromTargets } from '../advisory/release.js';
import type { KeyPair } from '../tuf/keys.js';
import type { TargetInfo } from '../tuf/metadata.js';
import { isoSeconds } from '../tuf/time.js';
import type { Manifest } from './manifest.js';

/**
 * The advisory's own target, beside the fix's in the same signed metadata: the file (the vendor's
 * advisory and its signature over the CSAF document dated at `release_at`) and its target entry.
 * Deterministic (Ed25519, one JSON rendering), so building it twice gives the same bytes.
 * `targets` already holds the fix's targets; the document names their platforms.
 */
export function advisoryTarget(input: {
  manifest: Manifest;
  targets: Record<string, TargetInfo>;
  releaseAt: number;
  vendorKey: KeyPair;
}): { path: string; info: TargetInfo; bytes: Buffer } {
  const { manifest, releaseAt, vendorKey } = input;
  const advisory = manifest.advisory;
  if (!advisory) throw new FairpatchError('MANIFEST_INVALID', 'the manifest has no advisory');
  // The fix's signed CVEs and its advisory's must not tell two stories (none given: the advisory's).
  const cves = advisory.cves.map((c) => c.id).sort();
  if (manifest.cves.length > 0 && [...manifest.cves].sort().join() !== cves.join())
    throw new FairpatchError(
      'MANIFEST_INVALID',
      `cves: the advisory's (${cves.join(', ')}), or none`,
    );
  const path = `${manifest.vendor}/${advisoryTargetName(advisory.id)}`;
  const custom = {
    product: manifest.product,
    version: manifest.version,
    platform: ADVISORY_PLATFORM,
    channel: manifest.channel,
    severity: manifest.severity,
    cves: advisory.cves.map((c) => c.id),
    applies_to: manifest.applies_to,
    release_at: isoSeconds(releaseAt),
    advisory: advisory.id,
  };
  const existing = input.targets[path];
  if (existing && existing.custom?.advisory === undefined)
    throw new FairpatchError('ALREADY_EXISTS', `${path} is already published`);
  const withEntry = { ...input.targets, [path]: { length: 0, hashes: { sha256: '' }, custom } };
  const fix = fixFromTargets(manifest.vendor, withEntry, path)!;
  const bytes = buildAdvisoryFile(
    {
      advisory,
      fixes: [fix],
      publisher: { category: 'vendor', name: manifest.vendor },
      publishedMs: releaseAt,
    },
    vendorKey,
  );
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { path, bytes, info: { length: bytes.length, hashes: { sha256 }, custom } };
}
