import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPrivateKey } from '../../src/keys/key-files.js';
import { generateRepositoryKeys, generateVendorKey } from '../../src/keys/keygen.js';
import { buildRegistration, buildRelease, type HashedArtifact } from '../../src/publish/build.js';
import { PublisherClient, hashFile } from '../../src/publish/client.js';
import type { KeyPair } from '../../src/tuf/keys.js';
import type { Envelope, TargetsSigned } from '../../src/tuf/metadata.js';
import { startServer } from './cli.js';
import { freshDatabase } from './dialects.js';
import type { StartedProcess } from './process.js';

/** Polls `check` until it returns a value (bounded): tests wait for conditions, not for fixed times. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Registers `name` through a node's publisher API as the operator; returns the vendor's key and token. */
export async function registerVendor(
  url: string,
  operatorToken: string,
  keysDir: string,
  name: string,
): Promise<{ key: KeyPair; token: string; activationTick: number }> {
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
  return { key, token, activationTick };
}

/** Writes an artifact file and uploads it through `url`. */
export async function uploadArtifact(
  url: string,
  token: string,
  vendor: string,
  file: string,
  content: Buffer | string,
  name: string,
): Promise<HashedArtifact> {
  writeFileSync(file, content);
  const artifact = { platform: 'linux-x64', name, path: file, ...(await hashFile(file)) };
  await new PublisherClient(url, token).uploadBlob(vendor, artifact);
  return artifact;
}

/** Signs and stages the vendor's next metadata releasing `artifacts` at `releaseAt`, through `url`. */
export async function stageRelease(
  url: string,
  vendor: { name: string; key: KeyPair; token: string },
  artifacts: HashedArtifact[],
  version: string,
  releaseAt: number,
): Promise<{ activationTick: number }> {
  const client = new PublisherClient(url, vendor.token);
  const previous = await client.latestVendorMetadata(vendor.name);
  const manifest = {
    vendor: vendor.name,
    product: `${vendor.name}-agent`,
    version,
    channel: 'stable',
    severity: 'high' as const,
    cves: [],
    applies_to: `<${version}`,
    release_at: '+0s',
    artifacts: [],
  };
  return (await client.postJson(
    `/vendors/${vendor.name}/metadata`,
    buildRelease({
      manifest,
      artifacts,
      releaseAt,
      previous: previous.signed,
      vendorKey: vendor.key,
      now: Date.now(),
    }),
  )) as { activationTick: number };
}

/**
 * `names.length` real `fairpatch serve` processes over one fresh PostgreSQL database, sharing one
 * keys directory: several nodes of one repository, as an operator runs them.
 */
export async function startNodesOverPostgres(
  prefix: string,
  names: string[],
  options: { operatorToken: string; minLead?: string },
): Promise<{ dir: string; keys: string; nodes: StartedProcess[]; close(): Promise<void> }> {
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
