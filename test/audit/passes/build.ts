import { randomBytes } from 'node:crypto';
import { collectObservations, type Seen } from '../../../src/audit/observations.js';
import {
  type AuditOptions,
  DEFAULT_AUDIT_OPTIONS,
  type ReleaseReport,
} from '../../../src/audit/report.js';
import { ed25519PublicKey } from '../../../src/common/ed25519.js';
import {
  type Observation,
  type SignedObservation,
  signObservation,
} from '../../../src/common/observation.js';
import { tickStart as startOfTick } from '../../../src/common/tick.js';
import { type Leaf, type LeafOf, leafBytes, parseLeaf } from '../../../src/log/leaves.js';
import { signCheckpoint } from '../../../src/log/checkpoint.js';
import { verifierKey } from '../../../src/log/note.js';
import { MemoryTree } from '../../../src/log/tree.js';
import { canonicalBytes } from '../../../src/common/canonical.js';
import { type KeyPair, type TufKey, generateKeyPair, tufKey } from '../../../src/tuf/keys.js';
import {
  type Envelope,
  SPEC_VERSION,
  type TargetsSigned,
  type TimestampSigned,
  sha256Hex,
  signEnvelope,
} from '../../../src/tuf/metadata.js';
import {
  type VerifiedDocument,
  verifyTimestampDocument,
} from '../../../src/tuf/timestamp-document.js';

// Hand-built audit inputs: real keys made here, real signatures by the project's own functions, every
// leaf parsed back through the log's schema. No server, no database.

export const TICK_MS = 5_000;
export const EPOCH = Date.parse('2026-03-01T00:00:00.000Z');
export const tickStart = (k: number): number => startOfTick({ epochMs: EPOCH, tickMs: TICK_MS }, k);
export const iso = (ms: number): string => new Date(ms).toISOString();

export const options = (o: Partial<AuditOptions> = {}): AuditOptions => ({
  ...DEFAULT_AUDIT_OPTIONS,
  ...o,
});

/** Leaves as the auditor gets them: each through the log's canonical bytes and strict parser. */
export const indexed = (leaves: readonly Leaf[]): Array<{ index: number; leaf: Leaf }> =>
  leaves.map((leaf, index) => ({ index, leaf: parseLeaf(leafBytes(leaf)) }));

/** A repository's timestamp role: a fresh key and the key map an auditor trusting its root holds. */
export function timestampRole(): { key: KeyPair; keys: Map<string, TufKey> } {
  const key = generateKeyPair();
  return { key, keys: new Map([[key.keyid, tufKey(key.publicKey)]]) };
}

export interface Doc {
  envelope: Envelope<TimestampSigned>;
  digest: string;
  text: string;
}

/** A timestamp document for `tick` naming snapshot `snapshot`, signed by `key`. */
export function timestamp(
  key: KeyPair,
  tick: number,
  snapshot: number,
  expires = '2030-01-01T00:00:00Z',
): Doc {
  const envelope = signEnvelope<TimestampSigned>(
    {
      _type: 'timestamp',
      spec_version: SPEC_VERSION,
      version: tick,
      expires,
      meta: { 'snapshot.json': { version: snapshot } },
    },
    [key],
  );
  const bytes = canonicalBytes(envelope);
  return { envelope, digest: sha256Hex(bytes), text: bytes.toString('utf8') };
}

export function verified(doc: Doc, keys: ReadonlyMap<string, TufKey>): VerifiedDocument {
  const v = verifyTimestampDocument(doc.envelope, keys);
  if (!v) throw new Error('test document does not verify');
  return v;
}

export interface Agent {
  seed: Buffer;
  key: string;
}

export function agent(): Agent {
  const seed = randomBytes(32);
  return { seed, key: ed25519PublicKey(seed).toString('hex') };
}

export interface Run {
  group: string;
  firstAt: number;
  lastAt?: number;
  polls?: number;
  via?: string;
  pushed?: boolean;
  artifactFailures?: string[];
  pathFailures?: string[];
}

/** An agent's signed run of polls served `doc`; `signer` signs in its place (a forgery) when given. */
export function receipt(
  who: Agent,
  doc: Doc,
  run: Run,
  signer: Buffer = who.seed,
): SignedObservation {
  const observation: Observation = {
    v: 1,
    agent: who.key,
    group: run.group,
    document: doc.digest,
    first_at: iso(run.firstAt),
    last_at: iso(run.lastAt ?? run.firstAt),
    polls: run.polls ?? 1,
    via: run.via ?? `/g/${run.group}/metadata/timestamp.json`,
    lag_ms: 0,
    ...(run.pushed !== undefined ? { pushed: run.pushed } : {}),
    ...(run.artifactFailures
      ? {
          artifact_failures: run.artifactFailures.map((target) => ({
            target,
            error: 'HTTP 503',
            at: iso(run.firstAt),
          })),
        }
      : {}),
    ...(run.pathFailures
      ? {
          path_failures: run.pathFailures.map((via) => ({
            via,
            error: 'HTTP 502',
            at: iso(run.firstAt),
          })),
        }
      : {}),
  };
  return signObservation(observation, signer);
}

export function receiptsLeaf(
  docs: readonly Doc[],
  receipts: SignedObservation[],
): LeafOf<'receipts.batch'> {
  return {
    type: 'receipts.batch',
    v: 2,
    documents: Object.fromEntries(docs.map((d) => [d.digest, d.text])),
    receipts,
  };
}

/** What the auditor admits from one logged batch; fails if anything in it was not admitted. */
export function observe(
  keys: ReadonlyMap<string, TufKey>,
  docs: readonly Doc[],
  receipts: SignedObservation[],
  /** Agent keys a group's owner vouched for; every signer unless told. */
  vouched?: readonly string[],
): { seen: Seen[]; documents: Map<string, VerifiedDocument> } {
  const { seen, documents, notes } = collectObservations({
    leaves: indexed([receiptsLeaf(docs, receipts)]),
    external: [],
    timestampKeys: keys,
    vouched: (_group, agent) => vouched?.includes(agent) ?? true,
  });
  if (notes.length > 0) throw new Error(`test batch not admitted: ${notes[0]!.message}`);
  return { seen, documents };
}

/** A vendor's signed targets metadata, as an activation leaf carries it. */
export function vendorMetadata(version: number, targets: Record<string, string>): string {
  const key = generateKeyPair();
  const signed: TargetsSigned = {
    _type: 'targets',
    spec_version: SPEC_VERSION,
    version,
    expires: '2030-01-01T00:00:00Z',
    targets: Object.fromEntries(
      Object.entries(targets).map(([path, product]) => [
        path,
        { length: 1, hashes: { sha256: sha256Hex(Buffer.from(path)) }, custom: patch(product) },
      ]),
    ),
  };
  return canonicalBytes(signEnvelope(signed, [key])).toString('utf8');
}

function patch(productVersion: string) {
  const [product = '', version = ''] = productVersion.split(' ');
  return {
    product,
    version,
    platform: 'any',
    channel: 'stable',
    severity: 'high' as const,
    cves: [],
    applies_to: '*',
    release_at: iso(EPOCH),
  };
}

export const scheduled = (
  vendor: string,
  version: number,
  tick: number,
  metadata: string,
): LeafOf<'release.scheduled'> => ({
  type: 'release.scheduled',
  v: 2,
  vendor,
  metadata_version: version,
  metadata_sha256: sha256Hex(Buffer.from(metadata, 'utf8')),
  activation_tick: tick,
});

export const activated = (
  vendor: string,
  version: number,
  tick: number,
  snapshot: number,
  metadata: string,
): LeafOf<'release.activated'> => ({
  type: 'release.activated',
  v: 2,
  vendor,
  metadata_version: version,
  tick,
  snapshot_version: snapshot,
  snapshot_sha256: sha256Hex(Buffer.from(`snapshot ${snapshot}`)),
  timestamp_sha256: sha256Hex(Buffer.from(`timestamp ${tick}`)),
  metadata,
});

/** A release as the earlier passes leave it: activated at `tick` in `snapshot`, no deliveries yet. */
export function release(
  id: string,
  tick: number,
  snapshot: number,
  targets: string[] = [`${id.split('/')[0]}/fix.tar`],
): ReleaseReport {
  const [vendor = '', version = '1'] = id.split('/');
  return {
    id,
    vendor,
    metadataVersion: Number(version),
    releaseAt: tickStart(tick),
    targets,
    scheduledLeaf: 0,
    scheduledTick: tick,
    halted: false,
    activation: {
      tick,
      tickStart: tickStart(tick),
      delayMs: 0,
      snapshotVersion: snapshot,
      leaf: 1,
    },
    groups: {},
  };
}

/** A note key (the log's, or a witness's): its secret and the verifier key string auditors pin. */
export function noteKey(name: string): { name: string; secretKey: Uint8Array; vkey: string } {
  const pair = generateKeyPair();
  return { name, secretKey: pair.secretKey, vkey: verifierKey(name, pair.publicKey) };
}

/** The log's signed checkpoint over the first `size` leaves of `tree`. */
export function checkpointNote(
  key: { name: string; secretKey: Uint8Array },
  tree: MemoryTree,
  size = tree.size,
): string {
  return signCheckpoint(
    { origin: key.name, size, rootHash: tree.root(size) },
    key.name,
    key.secretKey,
  );
}

export function treeOf(leaves: string[]): MemoryTree {
  const tree = new MemoryTree();
  tree.append(leaves.map((l) => Buffer.from(l, 'utf8')));
  return tree;
}
