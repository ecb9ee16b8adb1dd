import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPrivateKey } from '../../src/keys/key-files.js';
import { generateRepositoryKeys, generateVendorKey } from '../../src/keys/keygen.js';
import { buildRegistration, buildRelease, type HashedArtifact } from '../../src/publish/build.js';
import { PublisherClient, hashFile } from '../../src/publish/client.js';
import type { Manifest } from '../../src/publish/manifest.js';
import type { KeyPair } from '../../src/tuf/keys.js';
import type { Envelope, TargetsSigned } from '../../src/tuf/metadata.js';
import { afterAll, beforeAll } from 'vitest';
import { startServer } from './cli.js';
import { freshDatabase } from './dialects.js';
import type { StartedProcess } from './process.js';

/** A registered vendor as a test plays it: its name, signing key and publisher token. */
export interface TestVendor {
  name: string;
  key: KeyPair;
  token: string;
}

/** Registers `name` through a node's publisher API as the operator; returns the vendor's key and token. */
export async function registerVendor(
  url: string,
  operatorToken: string,
  keysDir: string,
  name: string,
): Promise<TestVendor & { activationTick: number }> {
  const operator = new PublisherClient(url, operatorToken);
  const key = generateVendorKey(keysDir, name);
  const top = ((await operator.request('GET', '/top-targets/latest')) as Envelope<TargetsSigned>)
    .signed;
  const body = buildRegistration({
    name,
    vendorKey: key,
    targetsKey: readPrivateKey(join(keysDir, 'targets.key')),
    previousTop: top,
    now: Date.now(),
  });
  const { token, activationTick } = (await operator.postJson('/vendors', body)) as {
    token: string;
    activationTick: number;
  };
  return { name, key, token, activationTick };
}

/** Writes `content` to `file` and uploads it through `url` as the vendor's artifact `name`. */
export async function uploadArtifact(
  url: string,
  vendor: { name: string; token: string },
  artifact: { file: string; content: Buffer | string; name: string; platform?: string },
): Promise<HashedArtifact> {
  writeFileSync(artifact.file, artifact.content);
  const hashed = {
    platform: artifact.platform ?? 'linux-x64',
    name: artifact.name,
    path: artifact.file,
    ...(await hashFile(artifact.file)),
  };
  await new PublisherClient(url, vendor.token).uploadBlob(vendor.name, hashed);
  return hashed;
}

/** What a staged release says of itself; what is left out takes the defaults of `stageRelease`. */
export interface ReleaseOptions {
  version: string;
  /** Absolute time (ms) the release takes effect. */
  releaseAt: number;
  /** Default `<vendor>-agent`. */
  product?: string;
  /** Default `high`. */
  severity?: Manifest['severity'];
  /** Default none. */
  cves?: string[];
  /** Staged into this coordinated release (`?embargo=ID`). */
  embargo?: string;
}

/** Signs and stages the vendor's next metadata releasing `artifacts`, through `url`. */
export async function stageRelease(
  url: string,
  vendor: TestVendor,
  artifacts: HashedArtifact[],
  options: ReleaseOptions,
): Promise<{ version: number; activationTick: number }> {
  const client = new PublisherClient(url, vendor.token);
  const previous = await client.latestVendorMetadata(vendor.name);
  const manifest = {
    vendor: vendor.name,
    product: options.product ?? `${vendor.name}-agent`,
    version: options.version,
    channel: 'stable',
    severity: options.severity ?? 'high',
    cves: options.cves ?? [],
    applies_to: `<${options.version}`,
    release_at: '+0s',
    artifacts: [],
  };
  const query = options.embargo === undefined ? '' : `?embargo=${options.embargo}`;
  return (await client.postJson(
    `/vendors/${vendor.name}/metadata${query}`,
    buildRelease({
      manifest,
      artifacts,
      releaseAt: options.releaseAt,
      previous: previous.signed,
      vendorKey: vendor.key,
      now: Date.now(),
    }),
  )) as { version: number; activationTick: number };
}

/** Several nodes of one repository over one PostgreSQL (`startNodesOverPostgres`). */
export interface NodesOverPostgres {
  dir: string;
  keys: string;
  nodes: StartedProcess[];
  close(): Promise<void>;
}

/**
 * `names.length` real `fairpatch serve` processes over one fresh PostgreSQL database, sharing one
 * keys directory: several nodes of one repository, as an operator runs them.
 */
export async function startNodesOverPostgres(
  prefix: string,
  names: string[],
  options: { operatorToken: string; minLead?: string },
): Promise<NodesOverPostgres> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const keys = join(dir, 'keys');
  generateRepositoryKeys({ dir: keys, now: Date.now() });
  const env = {
    DATABASE_URL: (await freshDatabase('postgres'))!,
    FAIRPATCH_OPERATOR_TOKEN: options.operatorToken,
  };
  const nodes = await Promise.all(
    names.map((name) =>
      startServer(
        [
          '--data',
          join(dir, `data-${name}`),
          '--keys',
          keys,
          '--min-lead',
          options.minLead ?? '2s',
          '--node-name',
          name,
        ],
        { env },
      ),
    ),
  );
  return {
    dir,
    keys,
    nodes,
    async close() {
      for (const n of nodes) await n.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `startNodesOverPostgres` for the enclosing `describe`: started before its tests, stopped after
 * them. The returned function gives the running nodes inside a test.
 */
export function nodesOverPostgresForSuite(
  ...args: Parameters<typeof startNodesOverPostgres>
): () => NodesOverPostgres {
  let cluster: NodesOverPostgres | undefined;
  beforeAll(async () => {
    cluster = await startNodesOverPostgres(...args);
  }, 60_000);
  afterAll(() => cluster?.close());
  return () => {
    if (!cluster) throw new Error('the nodes are not started (outside a test?)');
    return cluster;
  };
}
