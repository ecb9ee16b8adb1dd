import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { FairpatchError, type ErrorCode, ERROR_STATUS } from '../errors.js';
import { parseJson } from '../tuf/canonical.js';
import type { KeyPair } from '../tuf/keys.js';
import { type Envelope, type TargetsSigned, countValidSignatures } from '../tuf/metadata.js';
import { parseWith } from '../tuf/schema.js';
import { type HashedArtifact, buildHalt, buildRelease, defaultArtifactName } from './build.js';
import { manifestSchema, resolveReleaseAt } from './manifest.js';
import { tufKey } from '../tuf/keys.js';

/** A thin client for the publisher API; server errors come back as the same coded FairpatchError. */
export class PublisherClient {
  constructor(
    private readonly server: string,
    private readonly token: string,
  ) {}

  async request(method: string, path: string, body?: RequestInit['body'], headers: Record<string, string> = {}): Promise<unknown> {
    const response = await fetch(new URL(`/api/v1${path}`, this.server), {
      method,
      body: body ?? null,
      headers: { authorization: `Bearer ${this.token}`, ...headers },
      signal: AbortSignal.timeout(10 * 60_000),
      ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
    } as RequestInit);
    const text = await response.text();
    const parsed = text ? parseJson(text) : undefined;
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      const code = error?.code && error.code in ERROR_STATUS ? (error.code as ErrorCode) : 'INTERNAL';
      throw new FairpatchError(code, `${method} ${path}: ${response.status} ${error?.message ?? text.slice(0, 200)}`);
    }
    return parsed;
  }

  postJson(path: string, value: unknown): Promise<unknown> {
    return this.request('POST', path, JSON.stringify(value), { 'content-type': 'application/json' });
  }

  async latestVendorMetadata(vendor: string): Promise<Envelope<TargetsSigned>> {
    return (await this.request('GET', `/vendors/${vendor}/metadata/latest`)) as Envelope<TargetsSigned>;
  }

  async uploadBlob(vendor: string, artifact: HashedArtifact): Promise<void> {
    const stream = Readable.toWeb(createReadStream(artifact.path)) as ReadableStream;
    await this.request('PUT', `/vendors/${vendor}/blobs/${artifact.sha256}`, stream, {
      'content-type': 'application/octet-stream',
      'content-length': String(artifact.length),
    });
  }
}

export async function hashFile(path: string): Promise<{ sha256: string; length: number }> {
  const hash = createHash('sha256');
  let length = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    length += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), length };
}

/** The latest metadata the server holds for us, checked against our own key: a server cannot feed us a forgery to extend. */
async function ourLatest(client: PublisherClient, vendor: string, vendorKey: KeyPair): Promise<Envelope<TargetsSigned>> {
  const latest = await client.latestVendorMetadata(vendor);
  const key = tufKey(vendorKey.publicKey);
  if (countValidSignatures(latest, { keyids: [vendorKey.keyid], threshold: 1 }, { [vendorKey.keyid]: key }) < 1) {
    throw new FairpatchError('SIGNATURE_INVALID', `the server's latest ${vendor} metadata is not signed by this vendor key`);
  }
  return latest;
}

export interface PublishResult {
  vendor: string;
  version: number;
  releaseAt: string;
  activationTick: number;
  activatesAt: string;
  targets: string[];
}

/**
 * `fairpatch publish`: hash the artifacts, build and sign the next delegated metadata locally,
 * upload artifacts then metadata. The vendor key never leaves this process.
 */
export async function publishManifest(input: { manifestPath: string; client: PublisherClient; vendorKey: KeyPair; now: () => number }): Promise<PublishResult> {
  const manifest = parseWith(manifestSchema, parseJson(readFileSync(input.manifestPath), 'JSON_INVALID'), 'MANIFEST_INVALID');
  const base = dirname(resolve(input.manifestPath));
  const artifacts: HashedArtifact[] = [];
  for (const a of manifest.artifacts) {
    const path = resolve(base, a.file);
    if (!statSync(path, { throwIfNoEntry: false })?.isFile()) throw new FairpatchError('MANIFEST_INVALID', `artifact ${a.file} does not exist`);
    artifacts.push({ platform: a.platform, name: a.name ?? defaultArtifactName(a.file), path, ...(await hashFile(path)) });
  }
  const previous = await ourLatest(input.client, manifest.vendor, input.vendorKey);
  const releaseAt = resolveReleaseAt(manifest.release_at, input.now());
  const envelope = buildRelease({ manifest, artifacts, releaseAt, previous: previous.signed, vendorKey: input.vendorKey, now: input.now() });
  for (const artifact of artifacts) await input.client.uploadBlob(manifest.vendor, artifact);
  const staged = (await input.client.postJson(`/vendors/${manifest.vendor}/metadata`, envelope)) as { version: number; activationTick: number; activatesAt: string };
  return { vendor: manifest.vendor, version: staged.version, releaseAt: new Date(releaseAt).toISOString(), activationTick: staged.activationTick, activatesAt: staged.activatesAt, targets: artifacts.map((a) => `${manifest.vendor}/${a.name}`) };
}

/** `fairpatch halt`: the same metadata minus one patch version, re-signed by the vendor. */
export async function haltRelease(input: { vendor: string; version: string; product?: string; client: PublisherClient; vendorKey: KeyPair; now: () => number }) {
  const previous = await ourLatest(input.client, input.vendor, input.vendorKey);
  const { envelope, removed } = buildHalt({ ...input, previous: previous.signed, now: input.now() });
  const staged = (await input.client.postJson(`/vendors/${input.vendor}/metadata`, envelope)) as { version: number; activationTick: number; activatesAt: string };
  return { ...staged, removed };
}
