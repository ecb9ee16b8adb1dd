import { FairpatchError } from '../errors.js';
import type { TufKey } from '../tuf/keys.js';
import {
  type Envelope,
  type TargetInfo,
  type TargetsSigned,
  assertThreshold,
} from '../tuf/metadata.js';
import { keyIdOf } from '../tuf/keys.js';
import { canonicalBytes } from '../common/canonical.js';
import { targetFileName } from '../tuf/schema.js';
import { parseIsoSeconds, DAY_MS } from '../tuf/time.js';

export type ChangeKind = 'release' | 'halt' | 'refresh';

export interface StagingInput {
  vendor: string;
  vendorKey: TufKey;
  /** The latest staged version of this vendor's metadata (none before registration's initial one). */
  previous: TargetsSigned | undefined;
  upload: Envelope<TargetsSigned>;
  now: number;
  minLeadMs: number;
  /** How far ahead a release may be scheduled. */
  maxHorizonMs: number;
  /** Length of a blob this vendor uploaded, undefined when it did not (whoever else holds the bytes). */
  blobLength: (sha256: string) => number | undefined;
  /** The vendor that owns a product, undefined while nobody has published it. */
  productOwner: (product: string) => string | undefined;
  /** The bytes a path was first staged with, in any earlier version (halted ones included). */
  boundTarget: (path: string) => { sha256: string; length: number } | undefined;
}

export interface StagingPlan {
  kind: ChangeKind;
  effectiveAt: number;
  added: string[];
  removed: string[];
  /** New products and new path bindings this version claims; the store records them with it. */
  claims: { products: string[]; paths: Array<{ path: string; sha256: string; length: number }> };
}

/**
 * Decides whether a vendor's new delegated targets metadata may be staged, and when it takes effect.
 * The rules, in the order a reviewer would check them:
 *  1. signed by the vendor's delegated key (TUF spec 5.6.3 applied at upload, so a bad upload never lands);
 *  2. version is exactly previous + 1 (TUF spec 5.6.5: no rollback, no gaps);
 *  3. every path is `<vendor>/<file>` and every product is the vendor's own (or new): a vendor can
 *     only publish inside its own delegation, and never offer a patch for another vendor's product;
 *  4. a path keeps the bytes it was first staged with forever, halted versions included; a change
 *     either adds targets (a release, one release_at at least the lead time and at most the horizon
 *     ahead, before the metadata expires) or removes them (a halt), never both;
 *  5. every added target references bytes this vendor uploaded itself;
 *  6. the version takes effect no earlier than every release_at it carries, so nothing is ever
 *     visible before its release time, and a halt takes effect one lead time ahead, like a release.
 */
export function planStaging(input: StagingInput): StagingPlan {
  const { vendor, vendorKey, previous, upload, now, minLeadMs, maxHorizonMs } = input;
  const signed = upload.signed;
  const keyid = keyIdOf(vendorKey);
  assertThreshold(
    upload,
    { keyids: [keyid], threshold: 1 },
    { [keyid]: vendorKey },
    `${vendor} metadata`,
  );

  const expected = (previous?.version ?? 0) + 1;
  if (signed.version !== expected) {
    throw new FairpatchError(
      'VERSION_CONFLICT',
      `${vendor} metadata version must be ${expected}, got ${signed.version}`,
      { details: { expected } },
    );
  }
  const expiresAt = parseIsoSeconds(signed.expires) ?? 0;
  if (expiresAt < now + DAY_MS)
    throw new FairpatchError('METADATA_INVALID', 'expires must be at least one day ahead');

  for (const path of Object.keys(signed.targets)) assertOwnPath(vendor, path);

  const before = previous?.targets ?? {};
  const added: string[] = [];
  const removed = Object.keys(before).filter((p) => !(p in signed.targets));
  const claims: StagingPlan['claims'] = { products: [], paths: [] };
  for (const [path, info] of Object.entries(signed.targets)) {
    const old = before[path];
    if (old) {
      if (!sameTarget(old, info))
        throw new FairpatchError(
          'TARGET_IMMUTABLE',
          `${path} was already published with other content; publish a new file name`,
          { details: { path } },
        );
      continue;
    }
    added.push(path);
    const bound = input.boundTarget(path);
    if (bound && (bound.sha256 !== info.hashes.sha256 || bound.length !== info.length))
      throw pathBound(path);
    if (!bound) claims.paths.push({ path, sha256: info.hashes.sha256, length: info.length });
    const product = info.custom?.product;
    const owner = product === undefined ? undefined : input.productOwner(product);
    if (product !== undefined && owner !== undefined && owner !== vendor)
      throw productOwned(product, owner);
    if (product !== undefined && owner === undefined && !claims.products.includes(product))
      claims.products.push(product);
  }
  if (added.length > 0 && removed.length > 0) {
    throw new FairpatchError(
      'RELEASE_INVALID',
      'one upload either adds targets (release) or removes them (halt), not both',
    );
  }

  let releaseAt = 0;
  for (const path of added) {
    const info = signed.targets[path] as TargetInfo;
    const at = parseIsoSeconds(info.custom?.release_at ?? '') ?? NaN;
    if (releaseAt !== 0 && at !== releaseAt)
      throw new FairpatchError(
        'RELEASE_INVALID',
        'all targets of one release share one release_at',
      );
    releaseAt = at;
    // Only the vendor's own uploads: knowing another vendor's hash (say, from a leaked schedule)
    // must not let anyone publish, and so read, bytes that vendor has not released yet.
    const stored = input.blobLength(info.hashes.sha256);
    if (stored === undefined)
      throw new FairpatchError(
        'BLOB_MISSING',
        `artifact ${info.hashes.sha256} for ${path} was not uploaded`,
      );
    if (stored !== info.length)
      throw new FairpatchError(
        'HASH_MISMATCH',
        `${path}: length ${info.length} does not match the uploaded artifact (${stored})`,
      );
  }
  if (added.length > 0 && releaseAt < now + minLeadMs) {
    throw new FairpatchError(
      'RELEASE_TOO_SOON',
      `release_at: must be at least ${minLeadMs / 1000}s ahead so every node holds it before the tick`,
      {
        details: { earliest: new Date(now + minLeadMs).toISOString() },
      },
    );
  }

  if (added.length > 0 && releaseAt > now + maxHorizonMs) {
    throw new FairpatchError(
      'RELEASE_TOO_LATE',
      `release_at: at most ${Math.round(maxHorizonMs / DAY_MS)} days ahead (a release scheduled further out would hold back every later one)`,
      {
        details: { field: 'release_at', latest: new Date(now + maxHorizonMs).toISOString() },
      },
    );
  }
  if (added.length > 0 && releaseAt > expiresAt) {
    throw new FairpatchError(
      'RELEASE_TOO_LATE',
      'release_at: must not be after the metadata expires (clients would reject it before it is out)',
      { details: { field: 'release_at', expires: signed.expires } },
    );
  }

  const latestRelease = Math.max(
    0,
    ...Object.values(signed.targets).map((t) => parseIsoSeconds(t.custom?.release_at ?? '') ?? 0),
  );
  if (added.length > 0 && latestRelease > releaseAt) {
    // Staging it would delay this release to the pending one's time and break its promised tick.
    throw new FairpatchError(
      'RELEASE_INVALID',
      `a release is pending until ${new Date(latestRelease).toISOString()}; schedule this one at or after it, or halt that one first`,
    );
  }
  const kind: ChangeKind = added.length > 0 ? 'release' : removed.length > 0 ? 'halt' : 'refresh';
  const effectiveAt = Math.max(latestRelease, kind === 'release' ? releaseAt : now + minLeadMs);
  return { kind, effectiveAt, added, removed, claims };
}

/** Refusals staging and the store (re-checking inside its transaction) both raise. */
export const productOwned = (product: string, owner: string): FairpatchError =>
  new FairpatchError(
    'PRODUCT_OWNED',
    `product ${product} belongs to vendor ${owner}; publish under a product name of your own`,
    { details: { field: 'product', product } },
  );
export const pathBound = (path: string): FairpatchError =>
  new FairpatchError(
    'TARGET_IMMUTABLE',
    `${path} was published before (perhaps in a halted version) with other bytes; a path keeps its bytes forever: publish a new file name`,
    { details: { path } },
  );

export function assertOwnPath(vendor: string, path: string): void {
  const slash = path.indexOf('/');
  const owner = path.slice(0, slash);
  if (slash < 0 || owner !== vendor) {
    throw new FairpatchError('FORBIDDEN', `${path} is outside the ${vendor}/* delegation`);
  }
  if (!targetFileName.safeParse(path.slice(slash + 1)).success) {
    throw new FairpatchError(
      'PATH_INVALID',
      `${path}: target paths are <vendor>/<file name>, no sub-directories, no ..`,
    );
  }
}

function sameTarget(a: TargetInfo, b: TargetInfo): boolean {
  return canonicalBytes(a).equals(canonicalBytes(b));
}
