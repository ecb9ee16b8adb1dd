import { createHash } from 'node:crypto';
import { FairpatchError } from '../errors.js';
import { canonicalBytes } from '../common/canonical.js';
import { type KeyPair, type Signature, type TufKey, sign, verify } from './keys.js';
import type { RolloutPlan } from '../common/rollout-plan.js';

export const SPEC_VERSION = '1.0.31';

export interface Envelope<T> {
  signed: T;
  signatures: Signature[];
}

export interface RoleKeys {
  keyids: string[];
  threshold: number;
}

export interface RootSigned {
  _type: 'root';
  spec_version: string;
  version: number;
  expires: string;
  consistent_snapshot: boolean;
  keys: Record<string, TufKey>;
  roles: Record<'root' | 'targets' | 'snapshot' | 'timestamp', RoleKeys>;
}

/** The patch facts a vendor signs into each target. */
export interface PatchFacts {
  /** A staged rollout (src/common/rollout-plan.ts); absent: everyone at the release's tick. */
  rollout?: RolloutPlan;
  /** A pause, resume or advance of the staged release of this product and version, not a patch. */
  rollout_action?: { action: 'pause' | 'resume' | 'advance' };
  product: string;
  version: string;
  platform: string;
  channel: string;
  severity: 'low' | 'medium' | 'high' | 'critical';
  cves: string[];
  applies_to: string;
  release_at: string;
  /** Set on an advisory's own target (its id): the advisory of this product and version, not a patch. */
  advisory?: string;
}

export interface TargetInfo {
  length: number;
  hashes: { sha256: string };
  custom?: PatchFacts;
}

export interface DelegatedRole extends RoleKeys {
  name: string;
  paths: string[];
  terminating: boolean;
}

export interface TargetsSigned {
  _type: 'targets';
  spec_version: string;
  version: number;
  expires: string;
  targets: Record<string, TargetInfo>;
  delegations?: { keys: Record<string, TufKey>; roles: DelegatedRole[] };
}

export interface MetaFile {
  version: number;
  length?: number;
  hashes?: { sha256: string };
}

export interface SnapshotSigned {
  _type: 'snapshot';
  spec_version: string;
  version: number;
  expires: string;
  meta: Record<string, MetaFile>;
}

export interface TimestampSigned {
  _type: 'timestamp';
  spec_version: string;
  version: number;
  expires: string;
  meta: { 'snapshot.json': MetaFile };
}

/** Signs `signed` with each key, over its canonical JSON (TUF spec 4.2). */
export function signEnvelope<T>(signed: T, keys: readonly KeyPair[]): Envelope<T> {
  const message = canonicalBytes(signed);
  const seen = new Set<string>();
  const signatures = keys
    .filter((k) => !seen.has(k.keyid) && seen.add(k.keyid))
    .map((k) => sign(k, message));
  return { signed, signatures };
}

/** The bytes we serve: canonical JSON of the whole envelope, so every node emits identical bytes. */
export function envelopeBytes(envelope: Envelope<unknown>): Buffer {
  return canonicalBytes(envelope);
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Describes a metadata file for snapshot/timestamp `meta` (TUF spec 4.4, METAFILES). */
export function metaFile(version: number, bytes: Uint8Array): MetaFile {
  return { version, length: bytes.length, hashes: { sha256: sha256Hex(bytes) } };
}

/**
 * TUF spec 5.3.4 / 5.6.3: a role's metadata counts only if at least `threshold` distinct keys
 * of that role produced a valid signature. Signatures from other keys are ignored.
 */
export function countValidSignatures(
  envelope: Envelope<unknown>,
  role: RoleKeys,
  keys: Record<string, TufKey>,
): number {
  const message = canonicalBytes(envelope.signed);
  const valid = new Set<string>();
  for (const { keyid, sig } of envelope.signatures) {
    const key = keys[keyid];
    if (!key || !role.keyids.includes(keyid) || valid.has(keyid)) continue;
    if (verify(key.keyval.public, message, sig)) valid.add(keyid);
  }
  return valid.size;
}

export function assertThreshold(
  envelope: Envelope<unknown>,
  role: RoleKeys,
  keys: Record<string, TufKey>,
  what: string,
): void {
  const count = countValidSignatures(envelope, role, keys);
  if (count < role.threshold) {
    throw new FairpatchError(
      'SIGNATURE_INVALID',
      `${what}: ${count} valid signature(s), threshold is ${role.threshold}`,
    );
  }
}
