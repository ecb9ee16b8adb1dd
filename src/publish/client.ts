import { createHash } from 'node:crypto';
import {
  createReadStream,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { FairpatchError, type ErrorCode, ERROR_STATUS } from '../errors.js';
import { parseJson } from '../common/canonical.js';
import type { KeyPair } from '../tuf/keys.js';
import { type Envelope, type TargetsSigned, countValidSignatures } from '../tuf/metadata.js';
import { parseWith } from '../tuf/schema.js';
import {
  type HashedArtifact,
  buildHalt,
  buildRelease,
  buildRolloutAction,
  defaultArtifactName,
  rolloutActionName,
} from './build.js';
import { manifestSchema, resolveReleaseAt } from './manifest.js';
import { advisoryTarget } from './advisory.js';
import { type ManifestRollout, describePlan, signedPlan } from '../rollout/plan.js';
import { tufKey } from '../tuf/keys.js';
import { explainFetchFailure } from '../net/unreachable.js';

/** The API URL under the server's base; a base that is not an http(s) URL is named as such. */
function serverUrl(server: string, path: string): URL {
  let base: URL | undefined;
  try {
    base = new URL(server);
  } catch {
    base = undefined;
  }
  if (!base || (base.protocol !== 'http:' && base.protocol !== 'https:'))
    throw new FairpatchError(
      'BAD_REQUEST',
      `${server} is not an http(s) URL (e.g. http://127.0.0.1:8080)`,
    );
  return new URL(path, base);
}

/** A thin client for the publisher API; server errors come back as the same coded FairpatchError. */
export class PublisherClient {
  constructor(
    private readonly server: string,
    private readonly token: string,
  ) {}

  async request(
    method: string,
    path: string,
    body?: RequestInit['body'],
    headers: Record<string, string> = {},
  ): Promise<unknown> {
    const url = serverUrl(this.server, `/api/v1${path}`);
    const timeoutMs = 10 * 60_000;
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method,
        body: body ?? null,
        headers: { authorization: `Bearer ${this.token}`, ...headers },
        signal: AbortSignal.timeout(timeoutMs),
        ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
      } as RequestInit);
      text = await response.text();
    } catch (error) {
      throw explainFetchFailure(url, error, timeoutMs);
    }
    const parsed =
      text && response.headers.get('content-type')?.includes('json') ? parseJson(text) : undefined;
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      const code =
        error?.code && error.code in ERROR_STATUS
          ? (error.code as ErrorCode)
          : response.status >= 500
            ? 'INTERNAL'
            : 'BAD_REQUEST';
      const said =
        error?.message ?? (text.replace(/\s+/g, ' ').slice(0, 200) || response.statusText);
      throw new FairpatchError(
        code,
        `the server ${response.status >= 500 ? 'failed' : 'refused'} ${method} ${path} (HTTP ${response.status}): ${said}`,
      );
    }
    return parsed ?? (text ? parseJson(text) : undefined);
  }

  postJson(path: string, value: unknown): Promise<unknown> {
    return this.request('POST', path, JSON.stringify(value), {
      'content-type': 'application/json',
    });
  }

  async latestVendorMetadata(vendor: string): Promise<Envelope<TargetsSigned>> {
    return (await this.request(
      'GET',
      `/vendors/${vendor}/metadata/latest`,
    )) as Envelope<TargetsSigned>;
  }

  /** Uploads bytes held in memory (an advisory file) under their hash. */
  async uploadBytes(vendor: string, bytes: Buffer): Promise<void> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    await this.request('PUT', `/vendors/${vendor}/blobs/${sha256}`, new Uint8Array(bytes), {
      'content-type': 'application/octet-stream',
      'content-length': String(bytes.length),
    });
  }

  async uploadBlob(
    vendor: string,
    artifact: HashedArtifact,
    progress?: (sent: number, total: number) => void,
  ): Promise<void> {
    const file = createReadStream(artifact.path);
    if (progress) {
      let sent = 0;
      file.on('data', (chunk) => {
        sent += chunk.length;
        progress(sent, artifact.length);
      });
    }
    const stream = Readable.toWeb(file) as ReadableStream;
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
async function ourLatest(
  client: PublisherClient,
  vendor: string,
  vendorKey: KeyPair,
): Promise<Envelope<TargetsSigned>> {
  const latest = await client.latestVendorMetadata(vendor);
  const key = tufKey(vendorKey.publicKey);
  if (
    countValidSignatures(
      latest,
      { keyids: [vendorKey.keyid], threshold: 1 },
      { [vendorKey.keyid]: key },
    ) < 1
  ) {
    throw new FairpatchError(
      'SIGNATURE_INVALID',
      `the server's latest ${vendor} metadata is not signed by this vendor key`,
    );
  }
  return latest;
}

export interface PublishResult {
  vendor: string;
  product: string;
  /** The patch's own version, from the manifest. */
  productVersion: string;
  /** The vendor's TUF metadata version this publish created. */
  version: number;
  releaseAt: string;
  activationTick: number;
  activatesAt: string;
  targets: string[];
  /** The advisory published with the fix, and its own target. */
  advisory?: { id: string; target: string };
  /** The staged rollout signed into the release ("1% at +0s, 10% at +1h, 100% at +6h"), if any. */
  rollout?: string;
}

/**
 * `fairpatch publish`: hash the artifacts, build and sign the next delegated metadata locally,
 * upload artifacts then metadata. The vendor key never leaves this process.
 */
export async function publishManifest(input: {
  manifestPath: string;
  client: PublisherClient;
  vendorKey: KeyPair;
  now: () => number;
  embargo?: string;
  /** `--stages`: the rollout's stages, in place of the manifest's (its pause_on is kept). */
  stages?: ManifestRollout['stages'];
  /** Told as each artifact's bytes leave (a progress bar on a terminal). */
  progress?: (name: string, sent: number, total: number) => void;
}): Promise<PublishResult> {
  const read = parseWith(
    manifestSchema,
    parseJson(readFileSync(input.manifestPath), 'JSON_INVALID'),
    'MANIFEST_INVALID',
  );
  const manifest = input.stages
    ? { ...read, rollout: { ...read.rollout, stages: input.stages } }
    : read;
  const base = dirname(resolve(input.manifestPath));
  const artifacts: HashedArtifact[] = [];
  for (const a of manifest.artifacts) {
    const path = resolve(base, a.file);
    if (!statSync(path, { throwIfNoEntry: false })?.isFile())
      throw new FairpatchError('MANIFEST_INVALID', `artifact ${a.file} does not exist`);
    artifacts.push({
      platform: a.platform,
      name: a.name ?? defaultArtifactName(a.file),
      path,
      ...(await hashFile(path)),
    });
  }
  const previous = await ourLatest(input.client, manifest.vendor, input.vendorKey);
  // Into an embargo, the release goes live at the embargo's time, whatever the manifest said.
  const embargo =
    input.embargo === undefined ? undefined : await embargoTime(input.client, input.embargo);
  const releaseAt = embargo ?? resolveReleaseAt(manifest.release_at, input.now());
  const envelope = buildRelease({
    manifest,
    artifacts,
    releaseAt,
    previous: previous.signed,
    vendorKey: input.vendorKey,
    now: input.now(),
  });
  for (const artifact of artifacts)
    await input.client.uploadBlob(
      manifest.vendor,
      artifact,
      input.progress && ((sent, total) => input.progress!(artifact.name, sent, total)),
    );
  // The same bytes buildRelease hashed into the metadata (the build is deterministic).
  const advisory = manifest.advisory
    ? advisoryTarget({
        manifest,
        targets: envelope.signed.targets,
        releaseAt,
        vendorKey: input.vendorKey,
      })
    : undefined;
  if (advisory) await input.client.uploadBytes(manifest.vendor, advisory.bytes);
  const query = input.embargo === undefined ? '' : `?embargo=${encodeURIComponent(input.embargo)}`;
  const staged = (await input.client.postJson(
    `/vendors/${manifest.vendor}/metadata${query}`,
    envelope,
  )) as { version: number; activationTick: number; activatesAt: string };
  return {
    vendor: manifest.vendor,
    product: manifest.product,
    productVersion: manifest.version,
    version: staged.version,
    releaseAt: new Date(releaseAt).toISOString(),
    activationTick: staged.activationTick,
    activatesAt: staged.activatesAt,
    targets: artifacts.map((a) => `${manifest.vendor}/${a.name}`),
    ...(advisory && manifest.advisory
      ? { advisory: { id: manifest.advisory.id, target: advisory.path } }
      : {}),
    ...(manifest.rollout
      ? { rollout: describePlan(signedPlan(manifest.rollout, manifest.severity)) }
      : {}),
  };
}

/** The embargo's release_at, as its member reads it with its own token. */
async function embargoTime(client: PublisherClient, id: string): Promise<number> {
  const view = (await client.request('GET', `/embargoes/${encodeURIComponent(id)}`)) as {
    release_at?: unknown;
  };
  const at = typeof view.release_at === 'string' ? Date.parse(view.release_at) : Number.NaN;
  if (!Number.isFinite(at))
    throw new FairpatchError(
      'BAD_REQUEST',
      `the server's answer for embargo ${id} has no release_at`,
    );
  return at;
}

/** `fairpatch halt`: the same metadata minus one patch version, re-signed by the vendor. */
export async function haltRelease(input: {
  vendor: string;
  version: string;
  product?: string;
  client: PublisherClient;
  vendorKey: KeyPair;
  now: () => number;
}) {
  const previous = await ourLatest(input.client, input.vendor, input.vendorKey);
  const { envelope, removed } = buildHalt({
    ...input,
    previous: previous.signed,
    now: input.now(),
  });
  const staged = (await input.client.postJson(`/vendors/${input.vendor}/metadata`, envelope)) as {
    version: number;
    activationTick: number;
    activatesAt: string;
  };
  return { ...staged, removed };
}

/**
 * A vendor's pause, resume or advance of its staged release: the action's small file uploaded as
 * an artifact, then the next metadata carrying it as a control target (buildRolloutAction), live
 * at `releaseAt` for every group at one tick, logged like any release.
 */
export async function rolloutAction(input: {
  vendor: string;
  product: string;
  version: string;
  action: 'pause' | 'resume' | 'advance';
  releaseAt: number;
  client: PublisherClient;
  vendorKey: KeyPair;
  now: () => number;
}) {
  const previous = await ourLatest(input.client, input.vendor, input.vendorKey);
  const n =
    Object.values(previous.signed.targets).filter(
      (t) =>
        t.custom?.product === input.product &&
        t.custom.version === input.version &&
        t.custom.rollout_action !== undefined,
    ).length + 1;
  const bytes = Buffer.from(
    `${JSON.stringify({ release: `${input.vendor}/${input.product}@${input.version}`, action: input.action, n })}\n`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'fairpatch-rollout-'));
  try {
    const path = join(dir, 'action.json');
    writeFileSync(path, bytes);
    const artifact: HashedArtifact = {
      platform: 'any',
      name: rolloutActionName(input.product, input.version, n),
      path,
      ...(await hashFile(path)),
    };
    const envelope = buildRolloutAction({
      ...input,
      artifact,
      previous: previous.signed,
      now: input.now(),
    });
    await input.client.uploadBlob(input.vendor, artifact);
    const staged = (await input.client.postJson(`/vendors/${input.vendor}/metadata`, envelope)) as {
      version: number;
      activationTick: number;
      activatesAt: string;
    };
    return { ...staged, target: `${input.vendor}/${artifact.name}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
