import { basename } from 'node:path';
import { FairpatchError } from '../errors.js';
import { type KeyPair, type TufKey, tufKey } from '../tuf/keys.js';
import {
  type Envelope,
  type PatchFacts,
  type TargetInfo,
  type TargetsSigned,
  SPEC_VERSION,
  signEnvelope,
} from '../tuf/metadata.js';
import { buildTopTargets } from '../tuf/roles.js';
import { DAY_MS, isoSeconds } from '../tuf/time.js';
import type { Manifest } from './manifest.js';
import { advisoryTarget } from './advisory.js';
import { signedPlan } from '../rollout/plan.js';
import type { RotationRequest, VendorRequest } from '../tuf/vendor-requests.js';

const VENDOR_METADATA_LIFETIME_MS = 365 * DAY_MS;

export interface HashedArtifact {
  platform: string;
  name: string;
  path: string;
  length: number;
  sha256: string;
}

function vendorTargets(
  version: number,
  now: number,
  targets: Record<string, TargetInfo>,
): TargetsSigned {
  return {
    _type: 'targets',
    spec_version: SPEC_VERSION,
    version,
    expires: isoSeconds(now + VENDOR_METADATA_LIFETIME_MS),
    targets,
  };
}

/**
 * What a vendor hands the operator to be registered: its public key and its first (empty) metadata,
 * signed with its own key. The private key never leaves the vendor (`fairpatch vendor request`).
 */
export function buildVendorRequest(input: {
  name: string;
  vendorKey: KeyPair;
  now: number;
}): VendorRequest {
  return {
    name: input.name,
    public_key: tufKey(input.vendorKey.publicKey),
    initial: signEnvelope(vendorTargets(1, input.now, {}), [input.vendorKey]),
  };
}

/**
 * What a vendor hands the operator to move to a new key: the new public key and its current targets
 * re-signed by the new key as the next version, so delegation and metadata switch at one tick.
 */
export function buildRotationRequest(input: {
  name: string;
  newKey: KeyPair;
  previous: TargetsSigned;
  now: number;
}): RotationRequest {
  const { name, newKey, previous, now } = input;
  return {
    name,
    public_key: tufKey(newKey.publicKey),
    metadata: signEnvelope(vendorTargets(previous.version + 1, now, previous.targets), [newKey]),
  };
}

/**
 * The next top-level targets, signed by the operator's targets key: every delegation as before, and
 * `<name>/*` delegated to `key` (added, or moved to a new key).
 */
export function delegate(input: {
  name: string;
  key: TufKey;
  targetsKey: KeyPair;
  previousTop: TargetsSigned | undefined;
  now: number;
}): Envelope<TargetsSigned> {
  const { name, key, targetsKey, previousTop, now } = input;
  const roles = (previousTop?.delegations?.roles ?? []).map((role) => {
    if (role.name === name) return { name, key };
    const existing = previousTop?.delegations?.keys[role.keyids[0] ?? ''];
    if (!existing)
      throw new FairpatchError(
        'METADATA_INVALID',
        `top-level targets lists no key for ${role.name}`,
      );
    return { name: role.name, key: existing };
  });
  if (!roles.some((r) => r.name === name)) roles.push({ name, key });
  return signEnvelope(
    buildTopTargets((previousTop?.version ?? 0) + 1, now + VENDOR_METADATA_LIFETIME_MS, roles),
    [targetsKey],
  );
}

/** The operator's side of a vendor's request: `<name>/*` delegated to the key the request names. */
function delegateToRequestedKey(
  request: { name: string; public_key: TufKey },
  targetsKey: KeyPair,
  previousTop: TargetsSigned | undefined,
  now: number,
): Envelope<TargetsSigned> {
  return delegate({ name: request.name, key: request.public_key, targetsKey, previousTop, now });
}

/** The body of `POST /api/v1/vendors`: the vendor's request and the operator's delegation to it. */
export function registrationBody(
  request: VendorRequest,
  targetsKey: KeyPair,
  previousTop: TargetsSigned | undefined,
  now: number,
) {
  return {
    ...request,
    top_targets: delegateToRequestedKey(request, targetsKey, previousTop, now),
  };
}

/** The body of `POST /api/v1/vendors/<name>/key`: the vendor's rotation request and the new delegation. */
export function rotationBody(
  request: RotationRequest,
  targetsKey: KeyPair,
  previousTop: TargetsSigned,
  now: number,
) {
  return {
    public_key: request.public_key,
    metadata: request.metadata,
    top_targets: delegateToRequestedKey(request, targetsKey, previousTop, now),
  };
}

/** Both parties in one place, for tests and the dev seed, which play vendor and operator at once. */
export function buildRegistration(input: {
  name: string;
  vendorKey: KeyPair;
  targetsKey: KeyPair;
  previousTop: TargetsSigned | undefined;
  now: number;
}) {
  return registrationBody(
    buildVendorRequest(input),
    input.targetsKey,
    input.previousTop,
    input.now,
  );
}

/** Both parties in one place (tests): the vendor's rotation request, delegated by the operator. */
export function buildKeyRotation(input: {
  name: string;
  newKey: KeyPair;
  targetsKey: KeyPair;
  previousTop: TargetsSigned;
  previous: TargetsSigned;
  now: number;
}) {
  return rotationBody(buildRotationRequest(input), input.targetsKey, input.previousTop, input.now);
}

/** The vendor's next metadata: everything already published plus this manifest's artifacts. */
export function buildRelease(input: {
  manifest: Manifest;
  artifacts: HashedArtifact[];
  releaseAt: number;
  previous: TargetsSigned;
  vendorKey: KeyPair;
  now: number;
}): Envelope<TargetsSigned> {
  const { manifest, artifacts, releaseAt, previous, vendorKey, now } = input;
  const targets: Record<string, TargetInfo> = { ...previous.targets };
  // Signed into every target of the release: every group is served the same plan at every tick.
  const rollout = manifest.rollout ? signedPlan(manifest.rollout, manifest.severity) : undefined;
  for (const artifact of artifacts) {
    const path = `${manifest.vendor}/${artifact.name}`;
    if (targets[path])
      throw new FairpatchError(
        'ALREADY_EXISTS',
        `${path} is already published; give this artifact a new name`,
      );
    const custom: PatchFacts = {
      ...(rollout ? { rollout } : {}),
      product: manifest.product,
      version: manifest.version,
      platform: artifact.platform,
      channel: manifest.channel,
      severity: manifest.severity,
      cves: manifest.cves.length ? manifest.cves : (manifest.advisory?.cves.map((c) => c.id) ?? []),
      applies_to: manifest.applies_to,
      release_at: isoSeconds(releaseAt),
    };
    targets[path] = { length: artifact.length, hashes: { sha256: artifact.sha256 }, custom };
  }
  // The advisory goes live with the fix, in the same signed version: one activation for both.
  if (manifest.advisory) {
    const advisory = advisoryTarget({ manifest, targets, releaseAt, vendorKey });
    if (targets[advisory.path])
      throw new FairpatchError('ALREADY_EXISTS', `${advisory.path} is already published`);
    targets[advisory.path] = advisory.info;
  }
  return signEnvelope(vendorTargets(previous.version + 1, now, targets), [vendorKey]);
}

/**
 * The vendor's next metadata with a pause, resume or advance of its staged release of `product`
 * `version`: one more target (`artifact`, the action's own small file) carrying the release's facts
 * and `rollout_action`, live at `releaseAt` for every group at once, like any release.
 */
export function buildRolloutAction(input: {
  vendor: string;
  product: string;
  version: string;
  action: 'pause' | 'resume' | 'advance';
  artifact: HashedArtifact;
  releaseAt: number;
  previous: TargetsSigned;
  vendorKey: KeyPair;
  now: number;
}): Envelope<TargetsSigned> {
  const { vendor, product, version, artifact, previous } = input;
  const staged = Object.values(previous.targets).find(
    (t) =>
      t.custom?.product === product &&
      t.custom.version === version &&
      t.custom.rollout !== undefined &&
      t.custom.rollout_action === undefined,
  )?.custom;
  if (!staged)
    throw new FairpatchError(
      'NOT_FOUND',
      `${vendor} has no staged release of ${product} ${version} to ${input.action}`,
    );
  const path = `${vendor}/${artifact.name}`;
  if (previous.targets[path])
    throw new FairpatchError('ALREADY_EXISTS', `${path} is already published`);
  const { rollout: _plan, ...facts } = staged;
  const custom: PatchFacts = {
    ...facts,
    platform: 'any',
    release_at: isoSeconds(input.releaseAt),
    rollout_action: { action: input.action },
  };
  return signEnvelope(
    vendorTargets(previous.version + 1, input.now, {
      ...previous.targets,
      [path]: { length: artifact.length, hashes: { sha256: artifact.sha256 }, custom },
    }),
    [input.vendorKey],
  );
}

/** The name of a release's n-th control target: a new path each, as every path is immutable. */
export const rolloutActionName = (product: string, version: string, n: number): string =>
  `rollout-${product}-${version}-${n}.json`;

/** The vendor's next metadata without the targets of one patch version: a halt. */
export function buildHalt(input: {
  vendor: string;
  version: string;
  product?: string;
  previous: TargetsSigned;
  vendorKey: KeyPair;
  now: number;
}): { envelope: Envelope<TargetsSigned>; removed: string[] } {
  const { version, product, previous, vendorKey, now } = input;
  const targets: Record<string, TargetInfo> = {};
  const removed: string[] = [];
  for (const [path, info] of Object.entries(previous.targets)) {
    const match =
      info.custom?.version === version &&
      (product === undefined || info.custom.product === product);
    if (match) removed.push(path);
    else targets[path] = info;
  }
  if (removed.length === 0)
    throw new FairpatchError('NOT_FOUND', `no target of ${input.vendor} has version ${version}`);
  return {
    envelope: signEnvelope(vendorTargets(previous.version + 1, now, targets), [vendorKey]),
    removed,
  };
}

export const defaultArtifactName = (file: string): string => basename(file);
