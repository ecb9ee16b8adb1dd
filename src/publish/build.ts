import { basename } from 'node:path';
import { FairpatchError } from '../errors.js';
import { type KeyPair, type TufKey, tufKey } from '../tuf/keys.js';
import { type Envelope, type PatchFacts, type TargetInfo, type TargetsSigned, SPEC_VERSION, signEnvelope } from '../tuf/metadata.js';
import { buildTopTargets } from '../tuf/roles.js';
import { DAY_MS, isoSeconds } from '../tuf/time.js';
import type { Manifest } from './manifest.js';

const VENDOR_METADATA_LIFETIME_MS = 365 * DAY_MS;

export interface HashedArtifact {
  platform: string;
  name: string;
  path: string;
  length: number;
  sha256: string;
}

function vendorTargets(version: number, now: number, targets: Record<string, TargetInfo>): TargetsSigned {
  return { _type: 'targets', spec_version: SPEC_VERSION, version, expires: isoSeconds(now + VENDOR_METADATA_LIFETIME_MS), targets };
}

/**
 * The body of `POST /api/v1/vendors`: the vendor's key, its first (empty) metadata signed by the
 * vendor, and the next top-level targets, signed by the operator's targets key, delegating `<vendor>/*`.
 */
export function buildRegistration(input: { name: string; vendorKey: KeyPair; targetsKey: KeyPair; previousTop: TargetsSigned | undefined; now: number }) {
  const { name, vendorKey, targetsKey, previousTop, now } = input;
  const existing = (previousTop?.delegations?.roles ?? []).map((role) => {
    const key = previousTop?.delegations?.keys[role.keyids[0] ?? ''];
    if (!key) throw new FairpatchError('METADATA_INVALID', `top-level targets lists no key for ${role.name}`);
    return { name: role.name, key };
  });
  const publicKey: TufKey = tufKey(vendorKey.publicKey);
  const top = buildTopTargets((previousTop?.version ?? 0) + 1, now + VENDOR_METADATA_LIFETIME_MS, [...existing, { name, key: publicKey }]);
  return {
    name,
    public_key: publicKey,
    initial: signEnvelope(vendorTargets(1, now, {}), [vendorKey]),
    top_targets: signEnvelope(top, [targetsKey]),
  };
}

/**
 * The body of `POST /api/v1/vendors/<vendor>/key`: top-level targets delegating `<vendor>/*` to the
 * new key (signed by the operator's targets key) and the vendor's current targets re-signed by the new
 * key as the next version, so both switch at the same tick and clients never see a gap.
 */
export function buildKeyRotation(input: { name: string; newKey: KeyPair; targetsKey: KeyPair; previousTop: TargetsSigned; previous: TargetsSigned; now: number }) {
  const { name, newKey, targetsKey, previousTop, previous, now } = input;
  const publicKey: TufKey = tufKey(newKey.publicKey);
  const vendors = (previousTop.delegations?.roles ?? []).map((role) => {
    if (role.name === name) return { name, key: publicKey };
    const key = previousTop.delegations?.keys[role.keyids[0] ?? ''];
    if (!key) throw new FairpatchError('METADATA_INVALID', `top-level targets lists no key for ${role.name}`);
    return { name: role.name, key };
  });
  const top = buildTopTargets(previousTop.version + 1, now + VENDOR_METADATA_LIFETIME_MS, vendors);
  return {
    public_key: publicKey,
    metadata: signEnvelope(vendorTargets(previous.version + 1, now, previous.targets), [newKey]),
    top_targets: signEnvelope(top, [targetsKey]),
  };
}

/** The vendor's next metadata: everything already published plus this manifest's artifacts. */
export function buildRelease(input: { manifest: Manifest; artifacts: HashedArtifact[]; releaseAt: number; previous: TargetsSigned; vendorKey: KeyPair; now: number }): Envelope<TargetsSigned> {
  const { manifest, artifacts, releaseAt, previous, vendorKey, now } = input;
  const targets: Record<string, TargetInfo> = { ...previous.targets };
  for (const artifact of artifacts) {
    const path = `${manifest.vendor}/${artifact.name}`;
    if (targets[path]) throw new FairpatchError('ALREADY_EXISTS', `${path} is already published; give this artifact a new name`);
    const custom: PatchFacts = {
      product: manifest.product,
      version: manifest.version,
      platform: artifact.platform,
      channel: manifest.channel,
      severity: manifest.severity,
      cves: manifest.cves,
      applies_to: manifest.applies_to,
      release_at: isoSeconds(releaseAt),
    };
    targets[path] = { length: artifact.length, hashes: { sha256: artifact.sha256 }, custom };
  }
  return signEnvelope(vendorTargets(previous.version + 1, now, targets), [vendorKey]);
}

/** The vendor's next metadata without the targets of one patch version: a halt (DESIGN 3). */
export function buildHalt(input: { vendor: string; version: string; product?: string; previous: TargetsSigned; vendorKey: KeyPair; now: number }): { envelope: Envelope<TargetsSigned>; removed: string[] } {
  const { version, product, previous, vendorKey, now } = input;
  const targets: Record<string, TargetInfo> = {};
  const removed: string[] = [];
  for (const [path, info] of Object.entries(previous.targets)) {
    const match = info.custom?.version === version && (product === undefined || info.custom.product === product);
    if (match) removed.push(path);
    else targets[path] = info;
  }
  if (removed.length === 0) throw new FairpatchError('NOT_FOUND', `no target of ${input.vendor} has version ${version}`);
  return { envelope: signEnvelope(vendorTargets(previous.version + 1, now, targets), [vendorKey]), removed };
}

export const defaultArtifactName = (file: string): string => basename(file);
