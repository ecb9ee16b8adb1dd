import { type AdvisoryFile, parseAdvisoryFile } from '../advisory/advisory-file.js';
import { type AdvisoryFix, type AdvisoryRelease, fixFromTargets } from '../advisory/release.js';
import { BoundedCache } from '../common/bounded-cache.js';
import { tickStart } from '../common/tick.js';
import { FairpatchError } from '../errors.js';
import type { TargetInfo, TargetsSigned } from '../tuf/metadata.js';
import type { CommittedState, StoredVersion } from './state.js';
import { activeAt } from './view.js';

/** One advisory as public at a tick: what its documents are rendered from. */
export interface PublicAdvisory {
  vendor: string;
  /** Its own target (`<vendor>/<id>.advisory.json`) and the file's hash. */
  path: string;
  sha256: string;
  release: AdvisoryRelease;
  /** The first publisher's file (a coordinated release's members each published one). */
  file: AdvisoryFile;
  /** The vendors whose fixes it names: more than one for a coordinated release. */
  members: string[];
  /**
   * The public key (hex) behind the file's CSAF signature, when the served top-level targets
   * delegated it to the vendor by the tick: a key the vendor later rotated away still counts for
   * what it signed while it held it.
   */
  signerKey?: string;
}

export interface AdvisoryCatalogDeps {
  /** An old version's signed bytes, which the node no longer holds (the store reads them back). */
  versionBytes(vendor: string, version: number): Promise<Buffer>;
  /** An advisory file's bytes by hash; undefined when this node's storage lacks them. */
  blobBytes(sha256: string): Promise<Buffer | undefined>;
}

/** Vendor versions whose advisory targets, and advisory files, are kept parsed. */
const CACHED_VERSIONS = 4096;
const CACHED_FILES = 1024;

interface AdvisoryEntry {
  path: string;
  info: TargetInfo;
  fix: AdvisoryFix;
}

/**
 * Which advisories are public at tick k, read from the vendor versions served by then and nothing
 * else: an advisory is published at the tick of the first served version that carries its target
 * and withdrawn at the tick of the first later one that does not (a halt). A pending version is not
 * looked at, so before its tick its advisory is as absent as one that does not exist.
 *
 * Each version's advisory targets and each file are read once (both are immutable); the list is
 * recomputed only when the set of served versions changes, which happens at activations.
 */
export class AdvisoryCatalog {
  // Bounded: a vendor's history grows forever; anything dropped is read again when asked for.
  private readonly entries = new BoundedCache<string, AdvisoryEntry[]>(CACHED_VERSIONS);
  private readonly files = new BoundedCache<string, AdvisoryFile | null>(CACHED_FILES);
  private readonly delegations = new BoundedCache<string, Map<string, DelegatedKey>>(
    CACHED_VERSIONS,
  );
  private last:
    | {
        key: string;
        list: Promise<PublicAdvisory[]>;
        /** The state and the ticks [from, until) over which the served versions stay the same. */
        state: CommittedState;
        from: number;
        until: number;
      }
    | undefined;

  constructor(private readonly deps: AdvisoryCatalogDeps) {}

  publicAt(state: CommittedState, k: number): Promise<PublicAdvisory[]> {
    // What is served changes only with the state or at an activation: most requests stop here.
    const last = this.last;
    if (last && last.state === state && k >= last.from && k < last.until) return last.list;
    const served = [...state.vendors].map(
      ([vendor, versions]) => [vendor, servedVersions(versions, k)] as const,
    );
    // The top-level targets too: they say which keys were delegated to each vendor (signatures).
    const top = servedVersions(state.topTargets, k);
    const key = [...served, ['', top] as const]
      .map(([vendor, list]) => `${vendor}:${list.map((v) => `${v.version}.${v.sha256}`).join()}`)
      .join('|');
    let until = Infinity;
    for (const versions of [state.topTargets, ...state.vendors.values()])
      for (const v of versions) if (v.activationTick > k) until = Math.min(until, v.activationTick);
    const list = last?.key === key ? last.list : this.compute(state, served, top);
    const entry = { key, list, state, from: k, until };
    this.last = entry;
    // A failed read (storage) is not kept: the next request tries again.
    list.catch(() => {
      if (this.last === entry) this.last = undefined;
    });
    return list;
  }

  private async compute(
    state: CommittedState,
    served: ReadonlyArray<readonly [string, StoredVersion[]]>,
    top: readonly StoredVersion[],
  ): Promise<PublicAdvisory[]> {
    const delegated = new Map<string, DelegatedKey>();
    for (const version of top)
      for (const [keyid, known] of await this.delegationsOf(version)) delegated.set(keyid, known);
    const candidates: Candidate[] = [];
    for (const [vendor, versions] of served) {
      const found = new Map<
        string,
        { entry: AdvisoryEntry; published: number; withdrawn?: number }
      >();
      for (const version of versions) {
        const entries = await this.entriesOf(vendor, version);
        const paths = new Set(entries.map((e) => e.path));
        for (const entry of entries) {
          const known = found.get(entry.path);
          if (!known) found.set(entry.path, { entry, published: version.activationTick });
          else delete known.withdrawn; // the same bytes again (a path never changes them)
        }
        for (const [path, known] of found)
          if (!paths.has(path) && known.withdrawn === undefined)
            known.withdrawn = version.activationTick;
      }
      for (const { entry, published, withdrawn } of found.values()) {
        const file = await this.fileOf(entry.info.hashes.sha256);
        // Staging checked it; a file that does not parse is not served.
        if (file) candidates.push({ vendor, entry, file, published, withdrawn });
      }
    }
    return advisoriesOf(candidates, state, delegated);
  }

  /** The keys a top-level targets version delegates, each with the vendors it signs for. */
  private async delegationsOf(version: StoredVersion): Promise<Map<string, DelegatedKey>> {
    const cached = this.delegations.get(version.sha256);
    if (cached) return cached;
    const bytes = version.bytes ?? (await this.deps.versionBytes('targets', version.version));
    const { delegations } = (JSON.parse(bytes.toString('utf8')) as { signed: TargetsSigned })
      .signed;
    const out = new Map<string, DelegatedKey>();
    for (const role of delegations?.roles ?? [])
      for (const keyid of role.keyids) {
        const key = delegations?.keys[keyid]?.keyval.public;
        if (!key) continue;
        const known = out.get(keyid) ?? { publicKey: key, vendors: new Set<string>() };
        known.vendors.add(role.name);
        out.set(keyid, known);
      }
    this.delegations.set(version.sha256, out);
    return out;
  }

  private async entriesOf(vendor: string, version: StoredVersion): Promise<AdvisoryEntry[]> {
    const cached = this.entries.get(version.sha256);
    if (cached) return cached;
    const bytes = version.bytes ?? (await this.deps.versionBytes(vendor, version.version));
    const targets = (JSON.parse(bytes.toString('utf8')) as { signed: TargetsSigned }).signed
      .targets;
    const entries: AdvisoryEntry[] = [];
    for (const [path, info] of Object.entries(targets)) {
      if (info.custom?.advisory === undefined) continue;
      const fix = fixFromTargets(vendor, targets, path);
      if (fix) entries.push({ path, info, fix });
    }
    this.entries.set(version.sha256, entries);
    return entries;
  }

  private async fileOf(sha256: string): Promise<AdvisoryFile | undefined> {
    const cached = this.files.get(sha256);
    if (cached !== undefined) return cached ?? undefined;
    const bytes = await this.deps.blobBytes(sha256);
    if (!bytes)
      throw new FairpatchError(
        'STORAGE_UNAVAILABLE',
        `this node cannot read the advisory file ${sha256}; another node may serve it`,
        { details: { retryAfterSeconds: 5 } },
      );
    let file: AdvisoryFile | null;
    try {
      file = parseAdvisoryFile(bytes);
    } catch {
      file = null;
    }
    this.files.set(sha256, file);
    return file ?? undefined;
  }
}

interface Candidate {
  vendor: string;
  entry: AdvisoryEntry;
  file: AdvisoryFile;
  published: number;
  withdrawn: number | undefined;
}

/**
 * One advisory per id. The vendors that published one id at one tick are one coordinated release
 * (an embargo's members): one document naming every member's product, published by the
 * coordinator, withdrawn only once every member's fix is. An id published again later, by anyone,
 * or spelt with other letter case, is not served: the first publication owns it.
 */
function advisoriesOf(
  candidates: Candidate[],
  state: CommittedState,
  delegated: ReadonlyMap<string, DelegatedKey>,
): PublicAdvisory[] {
  const ordered = [...candidates].sort(
    (a, b) => a.published - b.published || a.vendor.localeCompare(b.vendor),
  );
  // By the id as its file name spells it (lowercase): two ids one letter's case apart are one path.
  const byId = new Map<string, Candidate[]>();
  for (const c of ordered) {
    const key = c.file.advisory.id.toLowerCase();
    const group = byId.get(key);
    if (!group) byId.set(key, [c]);
    else if (
      group[0]!.published === c.published &&
      group[0]!.file.advisory.id === c.file.advisory.id
    )
      group.push(c);
  }
  return [...byId.values()].map((group) => {
    const first = group[0]!;
    const withdrawn = group.every((c) => c.withdrawn !== undefined)
      ? Math.max(...group.map((c) => c.withdrawn!))
      : undefined;
    return {
      vendor: first.vendor,
      path: first.entry.path,
      sha256: first.entry.info.hashes.sha256,
      file: first.file,
      members: group.map((c) => c.vendor),
      ...signerOf(first, delegated),
      release: {
        advisory: first.file.advisory,
        fixes: group.map((c) => c.entry.fix),
        publisher:
          group.length === 1
            ? { category: 'vendor', name: first.vendor }
            : { category: 'coordinator', name: 'fairpatch coordinated release' },
        publishedMs: tickStart(state.config, first.published),
        ...(withdrawn !== undefined ? { withdrawnMs: tickStart(state.config, withdrawn) } : {}),
      },
    };
  });
}

/** A key some served top-level targets delegated, and to which vendors. */
interface DelegatedKey {
  publicKey: string;
  vendors: Set<string>;
}

/** The key that signed the file's CSAF signature, if it was ever delegated to its vendor by the tick. */
function signerOf(
  c: Candidate,
  delegated: ReadonlyMap<string, DelegatedKey>,
): { signerKey?: string } {
  const known = delegated.get(c.file.csaf_signature.keyid);
  return known?.vendors.has(c.vendor) ? { signerKey: known.publicKey } : {};
}

/** The versions that were in effect at some tick up to k, in order (a version halted before its tick never was). */
function servedVersions(versions: readonly StoredVersion[], k: number): StoredVersion[] {
  return versions
    .filter((v) => v.activationTick <= k && activeAt(versions, v.activationTick) === v)
    .sort((a, b) => a.version - b.version);
}
