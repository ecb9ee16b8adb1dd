import { assertMetadataLoggable } from '../log/limits.js';
import { FairpatchError } from '../errors.js';
import { canonicalBytes, parseJson } from '../common/canonical.js';
import { type TufKey, keyIdOf } from '../tuf/keys.js';
import {
  type Envelope,
  type RootSigned,
  type TargetsSigned,
  assertThreshold,
  envelopeBytes,
  sha256Hex,
} from '../tuf/metadata.js';
import { assertRootSuccessor } from '../tuf/roles.js';
import { parseRoot, parseVendorTargets, parseWith } from '../tuf/schema.js';
import { registrationSchema, rotationSchema } from '../tuf/vendor-requests.js';
import type { Clock } from '../common/clock.js';
import type { CommittedState, RepoConfig, StoredVersion } from '../serving/state.js';
import { type StagingPlan, planStaging } from './staging.js';
import type { RepositoryStore } from './store.js';
import { activationTick, tickAt, tickStart } from '../common/tick.js';
import { RootKeys } from './root-keys.js';
import { type OnlineSigners, RepositoryView } from '../serving/view.js';
import type { EmbargoStore } from './embargo-store.js';
import { Embargoes } from './embargo.js';
import { assertEmbargoRotation, assertEmbargoStaging } from './embargo-staging.js';
import type { Leaf } from '../log/leaves.js';

export interface RepositoryOptions {
  store: RepositoryStore;
  config: RepoConfig;
  /** The online keys named by a root: called again whenever a new root lands (key rotation). */
  signersFor: (root: RootSigned) => OnlineSigners;
  clock: Clock;
  /** Minimum time between staging and release_at (default 30 s): every node holds a release before its tick. */
  minLeadMs: number;
  /** How far ahead release_at may be (src/server/config.ts). */
  maxHorizonMs: number;
  /** Told how long each tick's rendering took, in seconds (metrics). */
  onRender?: (seconds: number) => void;
  /** The embargoes' table: the repository's embargo service is built on it, once. */
  embargoStore: EmbargoStore;
  /**
   * Where every committed change is logged, built for this repository as it opens (the log reads
   * the repository it logs for). Required: a change the repository commits is always logged.
   */
  log: (repo: Repository) => RepositoryEvents;
}

export interface StagedResult extends Omit<StagingPlan, 'claims'> {
  vendor: string;
  version: number;
  activationTick: number;
  activatesAt: string;
  /** Index of the schedule's leaf in the transparency log, once it is there. */
  logIndex?: number;
}

/** Where the repository reports what it committed (the transparency log, see evidence.ts). */
export interface RepositoryEvents {
  /** `rescheduled`: an embargo moved an already staged version to a later tick (committed again). */
  staged(
    vendor: string,
    version: StoredVersion,
    kind: string,
    rescheduled?: boolean,
  ): Promise<number | undefined>;
  /** An embargo leaf (embargo.ts): appended once under its dedupe key. */
  embargo(dedupe: string, leaf: Leaf): Promise<number>;
  rootAdded(version: number, bytes: Buffer, keyids: Record<string, string[]>): Promise<void>;
  /** Any other served change (top-level targets, a vendor's registration or rotation, a root): committed. */
  changeStaged(role: string, version: StoredVersion): Promise<number>;
}

/**
 * One node's view of the repository: the committed state loaded from the database and the
 * precomputed bytes it serves. The poll path only reads `view`, never the database.
 */
export class Repository {
  private current: RepositoryView;
  private loadedAt: number;
  private readonly events: RepositoryEvents;
  private readonly keys: RootKeys;
  /** Coordinated releases on this repository (embargo.ts): one service, built here. */
  readonly embargoes: Embargoes;

  private constructor(
    private readonly options: RepositoryOptions,
    state: CommittedState,
  ) {
    this.keys = new RootKeys(options.signersFor);
    // Said by whoever opens the repository (keyNotes), once it knows whether it can serve at all.
    this.keys.resolve(state, tickAt(options.config, options.clock.now()), false);
    this.current = new RepositoryView(state, (version) => this.keys.of(version), options.onRender);
    this.loadedAt = options.clock.now();
    this.embargoes = new Embargoes(this, options.embargoStore);
    // Last: the log may read anything of the repository it is built for.
    this.events = options.log(this);
  }

  /** Keys this node lacks for a root it serves or will serve (a health problem, announced in the log). */
  keyProblems(): string[] {
    return this.keys.problems();
  }

  /** Every key this node lacks (current, future and past roots), one line each. */
  keyNotes(): string[] {
    return this.keys.notes();
  }

  static async open(options: RepositoryOptions): Promise<Repository> {
    return new Repository(options, await options.store.loadState(options.config));
  }

  get view(): RepositoryView {
    return this.current;
  }

  get config(): RepoConfig {
    return this.options.config;
  }

  get clock(): Clock {
    return this.options.clock;
  }

  get store(): RepositoryStore {
    return this.options.store;
  }

  /** Where committed changes are logged. */
  get log(): RepositoryEvents {
    return this.events;
  }

  get maxHorizonMs(): number {
    return this.options.maxHorizonMs;
  }

  currentTick(): number {
    return tickAt(this.options.config, this.options.clock.now());
  }

  /**
   * Milliseconds since the last successful refresh began: everything committed before that moment
   * is held. A failed refresh does not make the state younger.
   */
  stateAge(): number {
    return this.options.clock.now() - this.loadedAt;
  }

  /** Reloads committed state; swaps the view only when something changed, keeping rendered bytes warm. */
  async refresh(): Promise<void> {
    const before = this.current.state;
    // Stamped before reading: a commit that lands while the rows are read may be missed.
    const startedAt = this.options.clock.now();
    // Given the tick, the bytes of versions replaced by then are let go (src/release/store.ts).
    const next = await this.options.store.loadState(
      this.options.config,
      before,
      this.currentTick(),
    );
    this.loadedAt = Math.max(this.loadedAt, startedAt);
    // Every refresh, so a key file added by the operator is picked up before the root's tick.
    this.keys.resolve(next, this.currentTick());
    if (sameState(before, next)) return;
    const view = new RepositoryView(
      next,
      (version) => this.keys.of(version),
      this.options.onRender,
    );
    // Signed before the swap, so the polls of this tick and the next read bytes instead of signing:
    // a refresh that lands after the half-tick pre-render would otherwise leave the next tick's
    // document to be signed by its first poll, at the boundary.
    const k = this.currentTick();
    try {
      view.timestampAt(k);
      view.timestampAt(k + 1);
    } catch {
      // A tick this node cannot sign (a missing key): the poll answers with the reason, as before.
    }
    this.current = view;
  }

  /** Validates and stages a vendor's new delegated metadata (a release, a halt or a refresh). */
  /** The shortest time between staging a release and its `release_at` on this repository. */
  get minLeadMs(): number {
    return this.options.minLeadMs;
  }

  /**
   * Stages a vendor's next metadata. `options.now` is for in-process callers that resolved a relative
   * `release_at` against an earlier reading of the clock (the dev seed): the lead-time check must use the
   * same reading, or a second boundary crossed in between turns "+0s" into "too soon".
   */
  async stageVendorMetadata(
    vendor: string,
    body: unknown,
    options: { minLeadMs?: number; now?: number; embargo?: string } = {},
  ): Promise<StagedResult> {
    const { store, clock, config } = this.options;
    const minLeadMs = options.minLeadMs ?? this.options.minLeadMs;
    const registered = await store.vendor(vendor);
    if (!registered) throw new FairpatchError('NOT_FOUND', `vendor ${vendor} is not registered`);
    const upload = parseVendorTargets(body);
    const previous = await store.latestVendorMetadata(vendor);
    const now = options.now ?? clock.now();
    const infos = Object.entries(upload.signed.targets);
    const lengths = new Map<string, number | undefined>();
    for (const [, info] of infos)
      lengths.set(info.hashes.sha256, await store.blobLength(vendor, info.hashes.sha256));
    const owners = await store.productOwners([
      ...new Set(infos.flatMap(([, info]) => (info.custom ? [info.custom.product] : []))),
    ]);
    const bound = await store.boundTargets(infos.map(([path]) => path));
    const pending = await this.options.embargoStore.pendingFor(vendor, now);
    const { claims, ...plan } = planStaging({
      vendor,
      vendorKey: registered.key,
      previous: previous?.signed,
      upload,
      now,
      minLeadMs,
      maxHorizonMs: this.options.maxHorizonMs,
      blobLength: (h) => lengths.get(h),
      productOwner: (p) => owners.get(p),
      boundTarget: (p) => bound.get(p),
    });
    const into = assertEmbargoStaging({
      vendor,
      plan,
      pending,
      ...(options.embargo !== undefined ? { into: { id: options.embargo } } : {}),
    });
    await this.assertNoReleasePendingAt(vendor, previous?.version, plan.kind, plan.effectiveAt);
    const bytes = envelopeBytes(upload);
    // Its activation leaf must be one the node can log and every auditor read (src/log/limits.ts).
    assertMetadataLoggable(vendor, bytes);
    await store.stageVendorMetadata({
      vendor,
      version: upload.signed.version,
      bytes,
      kind: plan.kind,
      effectiveAt: plan.effectiveAt,
      now,
      claims,
      ...(into ? { embargo: { id: into.id, releaseAt: into.releaseAt } } : {}),
      // The same rules under the vendor's lock: an embargo created or moved meanwhile is seen.
      recheck: (current) =>
        assertEmbargoStaging({
          vendor,
          plan,
          pending: current,
          ...(options.embargo !== undefined ? { into: { id: options.embargo } } : {}),
        }),
    });
    await this.refresh();
    const tick = activationTick(config, plan.effectiveAt);
    const versions = this.current.state.vendors.get(vendor) ?? [];
    const stored = versions.find((v) => v.version === upload.signed.version);
    const logIndex = stored && (await this.events.staged(vendor, stored, plan.kind));
    return {
      ...plan,
      vendor,
      version: upload.signed.version,
      activationTick: tick,
      activatesAt: new Date(tickStart(config, tick)).toISOString(),
      ...(logIndex !== undefined ? { logIndex } : {}),
    };
  }

  /**
   * Registers a vendor. The top-level targets that delegate to it are signed by the targets key,
   * which the operator holds (the server only checks it): a compromised server cannot delegate.
   */
  async registerVendor(
    body: unknown,
    options: { effectiveAt?: number } = {},
  ): Promise<{ name: string; effectiveAt: number; activationTick: number }> {
    const { store, clock, minLeadMs, config } = this.options;
    const input = parseWith(registrationSchema, body, 'BAD_REQUEST');
    const now = clock.now();
    if (await store.vendor(input.name))
      throw new FairpatchError('ALREADY_EXISTS', `vendor ${input.name} is already registered`);
    const keyid = keyIdOf(input.public_key);
    const { top, previousTop } = await this.checkNextTopTargets(
      input.top_targets,
      input.name,
      input.public_key,
    );
    const initial = input.initial as Envelope<TargetsSigned>;
    if (initial.signed.version !== 1 || Object.keys(initial.signed.targets).length > 0)
      throw new FairpatchError(
        'METADATA_INVALID',
        'initial vendor metadata is version 1 with no targets',
      );
    assertThreshold(
      initial,
      { keyids: [keyid], threshold: 1 },
      { [keyid]: input.public_key },
      `${input.name} initial metadata`,
    );
    const effectiveAt =
      options.effectiveAt ??
      Math.max(now + minLeadMs, previousTop?.effectiveAt ?? 0, this.latestRootEffectiveAt());
    await store.registerVendor({
      name: input.name,
      key: input.public_key,
      keyid,
      initial: envelopeBytes(initial),
      topTargets: { version: top.signed.version, bytes: canonicalBytes(top) },
      effectiveAt,
      now,
    });
    await this.refresh();
    await this.logDelegation(input.name, top.signed.version, initial.signed.version);
    return { name: input.name, effectiveAt, activationTick: activationTick(config, effectiveAt) };
  }

  /**
   * Rotates a vendor's key: new top-level targets naming the new key, and the vendor's
   * targets re-signed by it, effective together one lead time ahead. From then on the old key's
   * signatures count for nothing, here and in every client.
   */
  async rotateVendorKey(
    vendor: string,
    body: unknown,
  ): Promise<{ name: string; keyid: string; effectiveAt: number; activationTick: number }> {
    const { store, clock, minLeadMs, config } = this.options;
    const input = parseWith(rotationSchema, body, 'BAD_REQUEST');
    const registered = await store.vendor(vendor);
    if (!registered) throw new FairpatchError('NOT_FOUND', `vendor ${vendor} is not registered`);
    const now = clock.now();
    const keyid = keyIdOf(input.public_key);
    const { top, previousTop } = await this.checkNextTopTargets(
      input.top_targets,
      vendor,
      input.public_key,
    );
    const previous = await store.latestVendorMetadata(vendor);
    const metadata = input.metadata as Envelope<TargetsSigned>;
    assertThreshold(
      metadata,
      { keyids: [keyid], threshold: 1 },
      { [keyid]: input.public_key },
      `${vendor} metadata (new key)`,
    );
    if (metadata.signed.version !== (previous?.version ?? 0) + 1)
      throw new FairpatchError(
        'VERSION_CONFLICT',
        `${vendor} metadata version must be ${(previous?.version ?? 0) + 1}`,
      );
    if (
      !canonicalBytes(metadata.signed.targets).equals(
        canonicalBytes(previous?.signed.targets ?? {}),
      )
    ) {
      throw new FairpatchError(
        'RELEASE_INVALID',
        'a key rotation re-signs the current targets unchanged',
      );
    }
    const pending = Math.max(
      0,
      ...Object.values(metadata.signed.targets).map(
        (t) => Date.parse(t.custom?.release_at ?? '') || 0,
      ),
    );
    // Not before the latest version it re-signs takes effect: its stored time, which an embargo move
    // may have pushed past the signed release_at.
    const stored = (this.current.state.vendors.get(vendor) ?? []).at(-1)?.effectiveAt ?? 0;
    const effectiveAt = Math.max(
      now + minLeadMs,
      previousTop?.effectiveAt ?? 0,
      pending,
      stored,
      this.latestRootEffectiveAt(),
    );
    const metadataBytes = envelopeBytes(metadata);
    assertMetadataLoggable(vendor, metadataBytes);
    await this.assertNoReleasePendingAt(vendor, previous?.version, 'rotation', effectiveAt);
    await store.rotateVendorKey({
      name: vendor,
      key: input.public_key,
      keyid,
      metadata: { version: metadata.signed.version, bytes: metadataBytes },
      topTargets: { version: top.signed.version, bytes: canonicalBytes(top) },
      effectiveAt,
      now,
      recheck: (embargoes, latestEffectiveAt) =>
        assertEmbargoRotation({ vendor, effectiveAt, latestEffectiveAt, now, pending: embargoes }),
    });
    await this.refresh();
    await this.logDelegation(vendor, top.signed.version, metadata.signed.version);
    return {
      name: vendor,
      keyid,
      effectiveAt,
      activationTick: activationTick(config, effectiveAt),
    };
  }

  /** Commits the two documents a (re)delegation takes effect with to the log, before their tick. */
  private async logDelegation(vendor: string, top: number, metadata: number): Promise<void> {
    const state = this.current.state;
    const topVersion = state.topTargets.find((v) => v.version === top);
    const vendorVersion = state.vendors.get(vendor)?.find((v) => v.version === metadata);
    if (topVersion) await this.events.changeStaged('targets', topVersion);
    if (vendorVersion) await this.events.changeStaged(vendor, vendorVersion);
  }

  /**
   * A vendor's new version must not take effect at the tick of a release still pending (unless it is a
   * halt, which withdraws it): it would be served in the release's place, so the release would go live
   * inside a refresh or a rotation, its own commitment never opened. Vendor metadata is cumulative,
   * so a refresh or rotation staged while a release is pending carries the release and cannot go live
   * before its tick: it is refused until the release is out (docs/design.md §4).
   */
  private async assertNoReleasePendingAt(
    vendor: string,
    latest: number | undefined,
    kind: string,
    effectiveAt: number,
  ): Promise<void> {
    const known = this.current.state.vendors.get(vendor) ?? [];
    // Another node may have staged the latest version since this one last loaded the state.
    if ((known.at(-1)?.version ?? 0) < (latest ?? 0)) await this.refresh();
    if (kind === 'halt') return;
    const { config } = this.options;
    const tick = activationTick(config, effectiveAt);
    const now = this.currentTick();
    const versions = this.current.state.vendors.get(vendor) ?? [];
    // Only a release has a commitment that must be opened at its tick; one a later version (a halt)
    // supersedes at or before its tick will never be served. Anything else (a refresh, the empty first
    // version of a registration) may be superseded at its tick: what replaces it is logged there.
    const pending = versions.find(
      (v) =>
        v.kind === 'release' &&
        v.activationTick > now &&
        v.activationTick >= tick &&
        !versions.some((w) => w.version > v.version && w.activationTick <= v.activationTick),
    );
    if (!pending) return;
    const at = new Date(tickStart(config, pending.activationTick)).toISOString();
    throw new FairpatchError(
      'RELEASE_PENDING',
      `${vendor} version ${pending.version}, a release, is pending until ${at}; this ${kind} would take effect at that tick in its place: stage it after ${at}, or halt the pending release first`,
      { details: { version: pending.version, activates_at: at } },
    );
  }

  /**
   * The next top-level targets, as the operator signed them: a threshold of the root's targets keys,
   * version previous + 1, `<vendor>/*` delegated to `key`, every other delegation unchanged.
   */
  private async checkNextTopTargets(
    raw: unknown,
    vendor: string,
    key: TufKey,
  ): Promise<{
    top: Envelope<TargetsSigned>;
    previousTop: { version: number; bytes: string; effectiveAt: number } | undefined;
  }> {
    const root = this.latestRoot();
    const top = raw as Envelope<TargetsSigned>;
    assertThreshold(top, root.roles.targets, root.keys, 'top-level targets');
    const previousTop = await this.options.store.latestTopTargets();
    const expected = (previousTop?.version ?? 0) + 1;
    if (top.signed.version !== expected)
      throw new FairpatchError('VERSION_CONFLICT', `top-level targets version must be ${expected}`);
    const keyid = keyIdOf(key);
    const before = previousTop
      ? ((JSON.parse(previousTop.bytes) as Envelope<TargetsSigned>).signed.delegations?.roles ?? [])
      : [];
    const after = top.signed.delegations?.roles ?? [];
    const others = (roles: typeof before) => canonicalBytes(roles.filter((r) => r.name !== vendor));
    const delegation = after.find((r) => r.name === vendor);
    const named = top.signed.delegations?.keys[keyid]?.keyval.public === key.keyval.public;
    if (
      !delegation ||
      delegation.keyids.join() !== keyid ||
      delegation.paths.join() !== `${vendor}/*` ||
      !named ||
      !others(before).equals(others(after))
    ) {
      throw new FairpatchError(
        'METADATA_INVALID',
        `top-level targets must delegate ${vendor}/* to ${keyid} and change nothing else`,
      );
    }
    return { top, previousTop };
  }

  /**
   * Adds root N+1 after checking it against root N (TUF spec 5.3.4). It takes effect at a tick at
   * least the lead time ahead, so every node holds it (and has found its keys) before it signs, and
   * after root N's tick: every tick has one root, and every node switches at the same one.
   */
  async addRoot(body: unknown): Promise<{
    version: number;
    effectiveAt: number;
    activationTick: number;
    activatesAt: string;
  }> {
    const { store, clock, config, minLeadMs } = this.options;
    const next = parseRoot(
      typeof body === 'string' || body instanceof Uint8Array
        ? parseJson(body, 'METADATA_INVALID')
        : body,
    );
    assertRootSuccessor(this.latestRoot(), next);
    const bytes = envelopeBytes(next);
    const now = clock.now();
    const effectiveAt = Math.max(
      now + minLeadMs,
      tickStart(config, (this.current.state.rootTicks.at(-1) ?? 1) + 1),
    );
    await store.addRoot(next.signed.version, bytes, effectiveAt, now);
    await this.refresh();
    const roles = next.signed.roles;
    const tickOfRoot = this.current.state.rootTicks[next.signed.version - 1];
    if (tickOfRoot !== undefined)
      await this.events.changeStaged('root', {
        version: next.signed.version,
        bytes,
        sha256: sha256Hex(bytes),
        length: bytes.length,
        effectiveAt,
        activationTick: tickOfRoot,
      });
    await this.events.rootAdded(next.signed.version, bytes, {
      root: roles.root.keyids,
      targets: roles.targets.keyids,
      snapshot: roles.snapshot.keyids,
      timestamp: roles.timestamp.keyids,
    });
    const tick = activationTick(config, effectiveAt);
    return {
      version: next.signed.version,
      effectiveAt,
      activationTick: tick,
      activatesAt: new Date(tickStart(config, tick)).toISOString(),
    };
  }

  latestRoot(): RootSigned {
    return latestRootOf(this.current.state);
  }

  /**
   * When the latest root takes effect. Top-level targets are checked against that root's targets
   * keys, so they never take effect before it: a client still on the previous root would refuse them.
   */
  private latestRootEffectiveAt(): number {
    return tickStart(this.options.config, this.current.state.rootTicks.at(-1) ?? 1);
  }
}

function latestRootOf(state: CommittedState): RootSigned {
  const bytes = state.roots.at(-1);
  if (!bytes) throw new FairpatchError('NOT_READY', 'repository has no root');
  return (JSON.parse(bytes.toString('utf8')) as Envelope<RootSigned>).signed;
}

function sameState(a: CommittedState, b: CommittedState): boolean {
  if (
    a.roots.length !== b.roots.length ||
    a.topTargets.length !== b.topTargets.length ||
    a.vendors.size !== b.vendors.size
  )
    return false;
  for (const [vendor, list] of b.vendors) {
    const before = a.vendors.get(vendor);
    if (before?.length !== list.length) return false;
    // An embargo move re-times staged versions without adding one (embargo.ts).
    if (list.some((v, i) => before[i]?.activationTick !== v.activationTick)) return false;
  }
  return true;
}
