import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { ed25519PublicKey } from '../../src/common/ed25519.js';
import { signInstallReport } from '../../src/common/install-report.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPrivateKey } from '../../src/keys/key-files.js';
import { generateRepositoryKeys, generateVendorKey } from '../../src/keys/keygen.js';
import { buildRegistration, buildRelease, type HashedArtifact } from '../../src/publish/build.js';
import type { Manifest } from '../../src/publish/manifest.js';
import { type FairpatchNode, type NodeOptions, createNode } from '../../src/server/node.js';
import type { KeyPair } from '../../src/tuf/keys.js';
import type { StagedResult } from '../../src/release/repository.js';
import type { Envelope, RootSigned, TargetsSigned } from '../../src/tuf/metadata.js';
import { parseRoot } from '../../src/tuf/schema.js';
import { sha256Hex } from '../../src/tuf/metadata.js';
import { writeFileSync } from 'node:fs';
import { ManualClock } from './clock.js';
import { NO_RATE_LIMITS } from '../../bench/lib/limits.js';

// Shared with the benchmarks, which import nothing from test/.
export { NO_RATE_LIMITS } from '../../bench/lib/limits.js';
export { listen } from '../../bench/lib/listen.js';

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;

/** A whole tick boundary a little ahead of real time: tuf-js checks `expires` against the real clock. */
export function alignedNow(): number {
  return Math.ceil(Date.now() / 1000) * 1000 + 5 * SECOND;
}

export interface Fixture {
  dir: string;
  keysDir: string;
  dataDir: string;
  clock: ManualClock;
  node: FairpatchNode;
  operatorToken: string;
  vendors: Map<string, { key: KeyPair; token: string }>;
  /** Starts another node over the same database and keys (a second process in all but name). */
  openNode(extra?: Partial<NodeOptions>): Promise<FairpatchNode>;
  /** Registers a vendor, effective immediately (the test owns time). */
  addVendor(name: string): Promise<{ key: KeyPair; token: string }>;
  /** Writes an artifact, stores it as `vendor`'s upload (default acme) and returns what a manifest needs. */
  artifact(
    name: string,
    content: string,
    platform?: string,
    vendor?: string,
  ): Promise<HashedArtifact>;
  /** Builds and signs the vendor's next metadata for a release (not uploaded). */
  release(
    vendor: string,
    manifest: Partial<Manifest>,
    artifacts: HashedArtifact[],
    releaseAt: number,
  ): Promise<Envelope<TargetsSigned>>;
  /** Builds the vendor's next metadata for a release (as `release`) and stages it on the node. */
  stage(
    vendor: string,
    manifest: Partial<Manifest>,
    artifacts: HashedArtifact[],
    releaseAt: number,
  ): Promise<StagedResult>;
  close(): Promise<void>;
}

/** The repository's first root, as auditors and clients pin it. */
export function readRoot(keysDir: string): Envelope<RootSigned> {
  return parseRoot(
    JSON.parse(readFileSync(join(keysDir, '1.root.json'), 'utf8')),
  ) as Envelope<RootSigned>;
}

export async function createFixture(
  options: {
    now?: number;
    repo?: NodeOptions['repoDefaults'];
    minLeadMs?: number;
    databaseUrl?: string;
    /** Node settings over the test defaults (which lift every rate limit). */
    settings?: Partial<NodeOptions>;
  } = {},
): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'fairpatch-test-'));
  const keysDir = join(dir, 'keys');
  const dataDir = join(dir, 'data');
  const clock = new ManualClock(options.now ?? alignedNow());
  generateRepositoryKeys({ dir: keysDir, now: clock.now() });
  const base: NodeOptions = {
    dataDir,
    keysDir,
    clock,
    ...NO_RATE_LIMITS,
    ...options.settings,
    ...(options.repo ? { repoDefaults: options.repo } : {}),
    ...(options.minLeadMs !== undefined ? { minLeadMs: options.minLeadMs } : {}),
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
  };
  const nodes: FairpatchNode[] = [];
  const openNode = async (extra: Partial<NodeOptions> = {}) => {
    const n = await createNode({ ...base, ...extra });
    nodes.push(n);
    return n;
  };
  const node = await openNode();
  const operatorToken = await node.store.issueToken(null, clock.now());
  const vendors = new Map<string, { key: KeyPair; token: string }>();

  const fixture: Fixture = {
    dir,
    keysDir,
    dataDir,
    clock,
    node,
    operatorToken,
    vendors,
    openNode,
    async addVendor(name) {
      const key = generateVendorKey(keysDir, name);
      const previous = await node.store.latestTopTargets();
      const body = buildRegistration({
        name,
        vendorKey: key,
        targetsKey: readPrivateKey(join(keysDir, 'targets.key')),
        previousTop: previous && (JSON.parse(previous.bytes) as Envelope<TargetsSigned>).signed,
        now: clock.now(),
      });
      await node.repo.registerVendor(JSON.parse(JSON.stringify(body)), {
        effectiveAt: clock.now(),
      });
      const entry = { key, token: await node.store.issueToken(name, clock.now()) };
      vendors.set(name, entry);
      return entry;
    },
    async artifact(name, content, platform = 'linux-x64', vendor = 'acme') {
      const path = join(dir, name);
      writeFileSync(path, content);
      const bytes = Buffer.from(content);
      const sha256 = sha256Hex(bytes);
      const { Readable } = await import('node:stream');
      await node.blobs.put(sha256, Readable.from([bytes]), bytes.length + 1);
      await node.store.recordBlob(vendor, sha256, bytes.length, clock.now());
      return { platform, name, path, length: bytes.length, sha256 };
    },
    async release(vendor, manifest, artifacts, releaseAt) {
      const entry = vendors.get(vendor);
      if (!entry) throw new Error(`no vendor ${vendor}`);
      const previous = await node.store.latestVendorMetadata(vendor);
      const full: Manifest = {
        vendor,
        product: 'acme-agent',
        version: '2.4.1',
        channel: 'stable',
        severity: 'high',
        cves: ['CVE-2026-31337'],
        applies_to: '>=2.0.0 <2.4.1',
        release_at: '+0s',
        artifacts: [],
        ...manifest,
      };
      const envelope = buildRelease({
        manifest: full,
        artifacts,
        releaseAt,
        previous: previous!.signed,
        vendorKey: entry.key,
        now: clock.now(),
      });
      return JSON.parse(JSON.stringify(envelope)) as Envelope<TargetsSigned>;
    },
    async stage(vendor, manifest, artifacts, releaseAt) {
      return node.repo.stageVendorMetadata(
        vendor,
        await fixture.release(vendor, manifest, artifacts, releaseAt),
      );
    },
    async close() {
      for (const n of nodes) await n.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fixture;
}

/**
 * `POST /api/v1/reports` of the smallest install report an agent sends, signed by a fresh agent key
 * (or `seed`) at `now`: the request's init.
 */
export function installReport(
  headers: Record<string, string> = {},
  now = Date.now(),
  seed: Uint8Array = randomBytes(32),
): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(
      signInstallReport(
        {
          v: 1,
          agent: ed25519PublicKey(seed).toString('hex'),
          group: 'eu',
          product: 'p',
          version: '1',
          outcome: 'installed',
          at: new Date(now).toISOString(),
        },
        seed,
      ),
    ),
  };
}
