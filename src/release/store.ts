import type { OwnersByGroup } from '../common/enrollment.js';
import { createHash, randomBytes } from 'node:crypto';
import { FairpatchError } from '../errors.js';
import type { Transaction } from 'kysely';
import type { Database, Db } from '../db/schema.js';
import { isUniqueViolation } from '../db/errors.js';
import type { TufKey } from '../tuf/keys.js';
import { type TargetsSigned, sha256Hex } from '../tuf/metadata.js';
import type { CommittedState, RepoConfig, StoredVersion } from '../serving/state.js';
import { pathBound, productOwned } from './staging.js';
import { EmbargoStore, lockVendors } from './embargo-store.js';
import type { PendingMembership } from './embargo-staging.js';
import { activationTick } from '../common/tick.js';

const CONFIG_KEYS = [
  'epochMs',
  'tickMs',
  'freshnessMs',
  'snapshotPeriodMs',
  'snapshotLifetimeMs',
] as const;

const hashToken = (token: string): string =>
  createHash('sha256').update(token, 'utf8').digest('hex');

/** Database access for the release domain. Every write is one transaction: all of it lands, or none. */
export class RepositoryStore {
  constructor(readonly db: Db) {}

  async readConfig(): Promise<RepoConfig | undefined> {
    const rows = await this.db.selectFrom('repo_config').selectAll().execute();
    if (rows.length === 0) return undefined;
    const map = new Map(rows.map((r) => [r.key, Number(r.value)]));
    const config = Object.fromEntries(CONFIG_KEYS.map((k) => [k, map.get(k)])) as Record<
      (typeof CONFIG_KEYS)[number],
      number | undefined
    >;
    if (CONFIG_KEYS.some((k) => !Number.isSafeInteger(config[k])))
      throw new FairpatchError('INTERNAL', 'repo_config is incomplete');
    return config as RepoConfig;
  }

  /** Creates the repository once (config, root v1, top-level targets v1); later calls return what is stored. */
  async initialize(
    config: RepoConfig,
    root1: Buffer,
    targets1: Buffer,
    now: number,
  ): Promise<RepoConfig> {
    const existing = await this.readConfig();
    if (existing) return existing;
    try {
      await this.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('repo_config')
          .values(CONFIG_KEYS.map((k) => ({ key: k, value: String(config[k]) })))
          .execute();
        await trx
          .insertInto('root_versions')
          .values({ version: 1, bytes: root1.toString('utf8'), created_at: now })
          .execute();
        await trx
          .insertInto('top_targets')
          .values({
            version: 1,
            bytes: targets1.toString('utf8'),
            effective_at: config.epochMs,
            created_at: now,
          })
          .execute();
      });
    } catch (error) {
      // Another node created it first: theirs is the repository.
      if (!isUniqueViolation(error)) throw error;
    }
    return (await this.readConfig()) as RepoConfig;
  }

  /** Loads the committed state, reusing bytes already held in `previous` (versions are immutable). */
  /**
   * The committed state. Given the current `tick`, the bytes of every version a later one has
   * replaced by then are dropped (`versionBytes` reads them back): only versions in effect or pending
   * stay in memory, however many a vendor published.
   */
  async loadState(
    config: RepoConfig,
    previous?: CommittedState,
    tick?: number,
  ): Promise<CommittedState> {
    const known = new Map<string, StoredVersion>();
    if (previous) {
      for (const v of previous.topTargets) known.set(`targets/${v.version}`, v);
      for (const [vendor, list] of previous.vendors)
        for (const v of list) known.set(`${vendor}/${v.version}`, v);
    }
    // A version's bytes never change; its time may (an embargo moved), and then the new time wins.
    const reuse = (key: string, effectiveAt: number): StoredVersion | undefined => {
      const held = known.get(key);
      return held && held.effectiveAt !== effectiveAt
        ? { ...held, effectiveAt, activationTick: activationTick(config, effectiveAt) }
        : held;
    };
    const stored = async (
      key: string,
      version: number,
      effectiveAt: number,
      fetch: () => Promise<string>,
      kind?: string,
    ): Promise<StoredVersion> =>
      reuse(key, effectiveAt) ??
      (await (async () => {
        const bytes = Buffer.from(await fetch(), 'utf8');
        return {
          version,
          effectiveAt,
          activationTick: activationTick(config, effectiveAt),
          bytes,
          sha256: sha256Hex(bytes),
          length: bytes.length,
          ...(kind ? { kind } : {}),
        };
      })());

    const roots = await this.db
      .selectFrom('root_versions')
      .select(['version', 'bytes', 'effective_at'])
      .orderBy('version')
      .execute();
    const top = await this.db
      .selectFrom('top_targets')
      .select(['version', 'effective_at'])
      .orderBy('version')
      .execute();
    const vendorRows = await this.db
      .selectFrom('vendor_metadata')
      .select(['vendor', 'version', 'effective_at', 'kind'])
      .orderBy('vendor')
      .orderBy('version')
      .execute();

    const topTargets = await Promise.all(
      top.map((r) =>
        stored(`targets/${r.version}`, Number(r.version), Number(r.effective_at), async () => {
          const row = await this.db
            .selectFrom('top_targets')
            .select('bytes')
            .where('version', '=', r.version)
            .executeTakeFirstOrThrow();
          return row.bytes;
        }),
      ),
    );
    const vendors = new Map<string, StoredVersion[]>();
    for (const r of vendorRows) {
      const v = await stored(
        `${r.vendor}/${r.version}`,
        Number(r.version),
        Number(r.effective_at),
        async () => {
          const row = await this.db
            .selectFrom('vendor_metadata')
            .select('bytes')
            .where('vendor', '=', r.vendor)
            .where('version', '=', r.version)
            .executeTakeFirstOrThrow();
          return row.bytes;
        },
        r.kind,
      );
      const list = vendors.get(r.vendor);
      if (list) list.push(v);
      else vendors.set(r.vendor, [v]);
    }
    if (tick !== undefined)
      for (const list of [topTargets, ...vendors.values()]) dropReplacedBytes(list, tick);
    return {
      config,
      roots: roots.map((r) => Buffer.from(r.bytes, 'utf8')),
      rootTicks: roots.map((r) =>
        r.effective_at === null ? 1 : activationTick(config, Number(r.effective_at)),
      ),
      topTargets,
      vendors,
    };
  }

  /** The signed bytes of one version of `role` (a vendor, `targets` or `root`), read back. */
  async versionBytes(role: string, version: number): Promise<Buffer> {
    const row =
      role === 'targets'
        ? await this.db
            .selectFrom('top_targets')
            .select('bytes')
            .where('version', '=', version)
            .executeTakeFirst()
        : role === 'root'
          ? await this.db
              .selectFrom('root_versions')
              .select('bytes')
              .where('version', '=', version)
              .executeTakeFirst()
          : await this.db
              .selectFrom('vendor_metadata')
              .select('bytes')
              .where('vendor', '=', role)
              .where('version', '=', version)
              .executeTakeFirst();
    if (!row) throw new FairpatchError('NOT_FOUND', `${role} version ${version} is not stored`);
    return Buffer.from(row.bytes, 'utf8');
  }

  async latestRoot(): Promise<{ version: number; bytes: string }> {
    const row = await this.db
      .selectFrom('root_versions')
      .select(['version', 'bytes'])
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirstOrThrow();
    return { version: Number(row.version), bytes: row.bytes };
  }

  async addRoot(version: number, bytes: Buffer, effectiveAt: number, now: number): Promise<void> {
    await this.insertOrConflict(
      () =>
        this.db
          .insertInto('root_versions')
          .values({
            version,
            bytes: bytes.toString('utf8'),
            created_at: now,
            effective_at: effectiveAt,
          })
          .execute(),
      `root ${version}`,
    );
  }

  async latestTopTargets(): Promise<
    { version: number; bytes: string; effectiveAt: number } | undefined
  > {
    const row = await this.db
      .selectFrom('top_targets')
      .selectAll()
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst();
    return (
      row && {
        version: Number(row.version),
        bytes: row.bytes,
        effectiveAt: Number(row.effective_at),
      }
    );
  }

  async vendor(name: string): Promise<{ name: string; key: TufKey } | undefined> {
    const row = await this.db
      .selectFrom('vendors')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    return (
      row && {
        name: row.name,
        key: { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: row.public_key } },
      }
    );
  }

  async latestVendorMetadata(
    vendor: string,
  ): Promise<{ version: number; bytes: string; signed: TargetsSigned } | undefined> {
    const row = await this.db
      .selectFrom('vendor_metadata')
      .select(['version', 'bytes'])
      .where('vendor', '=', vendor)
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      version: Number(row.version),
      bytes: row.bytes,
      signed: (JSON.parse(row.bytes) as { signed: TargetsSigned }).signed,
    };
  }

  /**
   * Registers a vendor: its key, its first (empty, vendor-signed) metadata and the new top-level
   * targets that delegate `<vendor>/*` to it, all effective at the same moment.
   */
  async registerVendor(input: {
    name: string;
    key: TufKey;
    keyid: string;
    initial: Buffer;
    topTargets: { version: number; bytes: Buffer };
    effectiveAt: number;
    now: number;
  }): Promise<void> {
    const { name, key, keyid, initial, topTargets, effectiveAt, now } = input;
    await this.insertOrConflict(
      () =>
        this.db.transaction().execute(async (trx) => {
          await trx
            .insertInto('vendors')
            .values({ name, public_key: key.keyval.public, keyid, created_at: now })
            .execute();
          await this.insertDelegation(trx, {
            name,
            metadata: { version: 1, bytes: initial },
            topTargets,
            effectiveAt,
            now,
          });
        }),
      `vendor ${name} or top-level targets version ${topTargets.version}`,
    );
  }

  /**
   * The two documents a (re)delegation to a vendor's key takes effect with, inside the caller's
   * transaction: the top-level targets naming the key and the vendor's metadata signed by it.
   */
  private async insertDelegation(
    trx: Transaction<Database>,
    input: {
      name: string;
      metadata: { version: number; bytes: Buffer };
      topTargets: { version: number; bytes: Buffer };
      effectiveAt: number;
      now: number;
    },
  ): Promise<void> {
    const { name, metadata, topTargets, effectiveAt, now } = input;
    await trx
      .insertInto('top_targets')
      .values({
        version: topTargets.version,
        bytes: topTargets.bytes.toString('utf8'),
        effective_at: effectiveAt,
        created_at: now,
      })
      .execute();
    await trx
      .insertInto('vendor_metadata')
      .values({
        vendor: name,
        version: metadata.version,
        bytes: metadata.bytes.toString('utf8'),
        kind: 'refresh',
        effective_at: effectiveAt,
        created_at: now,
      })
      .execute();
  }

  /** The new key, the top-level targets naming it and the re-signed metadata: one transaction. */
  async rotateVendorKey(input: {
    name: string;
    key: TufKey;
    keyid: string;
    metadata: { version: number; bytes: Buffer };
    topTargets: { version: number; bytes: Buffer };
    effectiveAt: number;
    now: number;
    /**
     * Under the vendor's row lock: its pending embargoes, and when its latest stored version takes
     * effect (an embargo move may have pushed it since the caller read it); throws to refuse.
     */
    recheck?: (pending: PendingMembership[], latestEffectiveAt: number) => void;
  }): Promise<void> {
    const { name, key, keyid, metadata, topTargets, effectiveAt, now } = input;
    await this.insertOrConflict(
      () =>
        this.db.transaction().execute(async (trx) => {
          await trx
            .updateTable('vendors')
            .set({ public_key: key.keyval.public, keyid })
            .where('name', '=', name)
            .execute();
          if (input.recheck) {
            const latest = await trx
              .selectFrom('vendor_metadata')
              .select('effective_at')
              .where('vendor', '=', name)
              .orderBy('version', 'desc')
              .limit(1)
              .executeTakeFirst();
            input.recheck(
              await new EmbargoStore(trx).pendingFor(name, now),
              Number(latest?.effective_at ?? 0),
            );
          }
          await this.insertDelegation(trx, { name, metadata, topTargets, effectiveAt, now });
        }),
      `${name} metadata version ${metadata.version} or top-level targets version ${topTargets.version}`,
    );
  }

  /**
   * Stages one vendor metadata version together with what it claims for good: the products it names
   * (owned by the first vendor to publish them) and the bytes of each new path. One transaction, and
   * the claims are re-checked inside it, so a concurrent upload by another vendor cannot slip past
   * the checks staging made before.
   */
  async stageVendorMetadata(row: {
    vendor: string;
    version: number;
    bytes: Buffer;
    kind: 'release' | 'halt' | 'refresh';
    effectiveAt: number;
    now: number;
    claims?: { products: string[]; paths: Array<{ path: string; sha256: string; length: number }> };
    /** Staged into this embargo, whose time was read as `releaseAt`; re-checked under its row lock. */
    embargo?: { id: string; releaseAt: number };
    /**
     * The embargo rules again, on the vendor's pending embargoes read under its row lock (which an
     * embargo's creation and move take too): what staging read before may have changed since.
     */
    recheck?: (pending: PendingMembership[]) => void;
  }): Promise<void> {
    const { vendor, now, embargo } = row;
    await this.insertOrConflict(
      () =>
        this.db.transaction().execute(async (trx) => {
          await lockVendors(trx, [vendor]);
          row.recheck?.(await new EmbargoStore(trx).pendingFor(vendor, now));
          if (embargo) {
            // Locks the embargo's row: a concurrent move either lands first (and we refuse) or waits.
            await trx
              .updateTable('embargoes')
              .set({ id: embargo.id })
              .where('id', '=', embargo.id)
              .execute();
            const current = await trx
              .selectFrom('embargoes')
              .select('release_at')
              .where('id', '=', embargo.id)
              .executeTakeFirst();
            const member = await trx
              .updateTable('embargo_members')
              .set({ staged_version: row.version })
              .where('embargo', '=', embargo.id)
              .where('vendor', '=', vendor)
              .where('staged_version', 'is', null)
              .where('left_out', '=', 0)
              .executeTakeFirst();
            if (
              Number(current?.release_at) !== embargo.releaseAt ||
              Number(member.numUpdatedRows) !== 1
            ) {
              throw new FairpatchError(
                'EMBARGO_INVALID',
                `embargo ${embargo.id} changed while staging (moved, or this member was left out or staged): read it again and re-sign`,
              );
            }
          }
          for (const name of row.claims?.products ?? []) {
            await trx
              .insertInto('products')
              .values({ name, vendor, created_at: now })
              .onConflict((oc) => oc.column('name').doNothing())
              .execute();
            const owner = await trx
              .selectFrom('products')
              .select('vendor')
              .where('name', '=', name)
              .executeTakeFirstOrThrow();
            if (owner.vendor !== vendor) throw productOwned(name, owner.vendor);
          }
          for (const p of row.claims?.paths ?? []) {
            await trx
              .insertInto('target_paths')
              .values({ path: p.path, sha256: p.sha256, length: p.length, created_at: now })
              .onConflict((oc) => oc.column('path').doNothing())
              .execute();
            const bound = await trx
              .selectFrom('target_paths')
              .select(['sha256', 'length'])
              .where('path', '=', p.path)
              .executeTakeFirstOrThrow();
            if (bound.sha256 !== p.sha256 || Number(bound.length) !== p.length)
              throw pathBound(p.path);
          }
          await trx
            .insertInto('vendor_metadata')
            .values({
              vendor,
              version: row.version,
              bytes: row.bytes.toString('utf8'),
              kind: row.kind,
              effective_at: row.effectiveAt,
              created_at: now,
            })
            .execute();
        }),
      `${vendor} metadata version ${row.version}`,
    );
  }

  /** Owners of the named products that already have one. */
  async productOwners(products: string[]): Promise<Map<string, string>> {
    if (products.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('products')
      .select(['name', 'vendor'])
      .where('name', 'in', products)
      .execute();
    return new Map(rows.map((r) => [r.name, r.vendor]));
  }

  /** The bytes each of these paths was first staged with, for the paths ever staged. */
  async boundTargets(paths: string[]): Promise<Map<string, { sha256: string; length: number }>> {
    if (paths.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('target_paths')
      .select(['path', 'sha256', 'length'])
      .where('path', 'in', paths)
      .execute();
    return new Map(rows.map((r) => [r.path, { sha256: r.sha256, length: Number(r.length) }]));
  }

  /** Length of a blob this vendor uploaded; undefined when it did not, whoever else holds the bytes. */
  async blobLength(vendor: string, sha256: string): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('vendor_blobs')
      .select('length')
      .where('vendor', '=', vendor)
      .where('sha256', '=', sha256)
      .executeTakeFirst();
    return row ? Number(row.length) : undefined;
  }

  /** Records that `vendor` uploaded these (hash-verified) bytes. */
  async recordBlob(vendor: string, sha256: string, length: number, now: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('blobs')
        .values({ sha256, length, created_at: now })
        .onConflict((oc) => oc.column('sha256').doNothing())
        .execute();
      await trx
        .insertInto('vendor_blobs')
        .values({ vendor, sha256, length, created_at: now })
        .onConflict((oc) => oc.columns(['vendor', 'sha256']).doNothing())
        .execute();
    });
  }

  /** The customer groups the operator declared last (kept beside the config; the log has the history). */
  async declaredGroups(): Promise<string[] | undefined> {
    const row = await this.db
      .selectFrom('repo_config')
      .select('value')
      .where('key', '=', 'declared_groups')
      .executeTakeFirst();
    return row ? (JSON.parse(row.value) as string[]) : undefined;
  }

  /** The owner keys declared with them, per group (src/common/enrollment.ts): whose agents are vouched. */
  async declaredOwners(): Promise<OwnersByGroup> {
    const row = await this.db
      .selectFrom('repo_config')
      .select('value')
      .where('key', '=', 'declared_owners')
      .executeTakeFirst();
    return row ? (JSON.parse(row.value) as OwnersByGroup) : {};
  }

  /** Both in one transaction: a declaration is never half kept. */
  async saveDeclaredGroups(groups: readonly string[], owners: OwnersByGroup = {}): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      for (const [key, value] of [
        ['declared_groups', JSON.stringify([...groups])],
        ['declared_owners', JSON.stringify(owners)],
      ] as const)
        await trx
          .insertInto('repo_config')
          .values({ key, value })
          .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
          .execute();
    });
  }

  /** Issues a new token (for a vendor, or the operator when vendor is null); only its hash is kept. */
  async issueToken(vendor: string | null, now: number): Promise<string> {
    const token = `fp_${vendor ?? 'operator'}_${randomBytes(32).toString('base64url')}`;
    await this.db
      .insertInto('tokens')
      .values({ hash: hashToken(token), vendor, created_at: now, revoked_at: null })
      .execute();
    return token;
  }

  /** Registers a token chosen outside (e.g. FAIRPATCH_OPERATOR_TOKEN); idempotent. */
  async importToken(token: string, vendor: string | null, now: number): Promise<void> {
    await this.db
      .insertInto('tokens')
      .values({ hash: hashToken(token), vendor, created_at: now, revoked_at: null })
      .onConflict((oc) => oc.column('hash').doNothing())
      .execute();
  }

  /** Operator tokens not revoked: without one, no operator command can be authorised. */
  async operatorTokens(): Promise<number> {
    const row = await this.db
      .selectFrom('tokens')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .where('vendor', 'is', null)
      .where('revoked_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async findToken(token: string): Promise<{ vendor: string | null } | undefined> {
    const row = await this.db
      .selectFrom('tokens')
      .select(['vendor', 'revoked_at'])
      .where('hash', '=', hashToken(token))
      .executeTakeFirst();
    return row && row.revoked_at === null ? { vendor: row.vendor } : undefined;
  }

  async revokeTokens(vendor: string, now: number): Promise<number> {
    const result = await this.db
      .updateTable('tokens')
      .set({ revoked_at: now })
      .where('vendor', '=', vendor)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  private async insertOrConflict(write: () => Promise<unknown>, what: string): Promise<void> {
    try {
      await write();
    } catch (error) {
      if (isUniqueViolation(error))
        throw new FairpatchError(
          'VERSION_CONFLICT',
          `${what} already exists (another upload landed first)`,
        );
      throw error;
    }
  }
}

/**
 * Drops, in place, the bytes of every version of `list` that a later one replaced by `tick`: it is
 * never served as current again (an embargo re-times only pending versions). In place, so the view
 * being served lets go of them too.
 */
function dropReplacedBytes(list: readonly StoredVersion[], tick: number): void {
  let inEffect = -1;
  for (const v of list) if (v.activationTick <= tick && v.version > inEffect) inEffect = v.version;
  for (const v of list) if (v.version < inEffect && v.bytes) delete v.bytes;
}
