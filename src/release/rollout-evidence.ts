import { BoundedCache } from '../common/bounded-cache.js';
import { FairpatchError } from '../errors.js';
import type { LogStore } from '../log/store.js';

// What an agent needs to compute a staged release's lottery salt (src/rollout/salt.ts), served from
// the log as it stands: the activation leaf of the first vendor version that carried the target, and
// the first checkpoints that hold that leaf, each with the leaf's inclusion proof. The agent verifies
// all of it against the log key and its own pinned witnesses; nothing here is trusted.

/** Checkpoints offered past the first: enough to reach one every witness cosigned on a busy log. */
const MAX_CHECKPOINTS = 8;
/** Activation leaves of one vendor read at most to find a target (each read is one row). */
const MAX_SCAN = 10_000;
const TARGET = /^[a-z0-9](?:[a-z0-9-]{0,62})\/[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

export interface SaltEvidence {
  target: string;
  leaf_index: number;
  /** The activation leaf's bytes, as logged (canonical JSON). */
  leaf: string;
  /** Ascending by size: the first checkpoint holding the leaf, then those carrying cosignatures. */
  checkpoints: Array<{ note: string; proof: string[] }>;
}

/** `GET /log/rollout-pauses`: src/rollout/pause-evidence.ts verifies it. */
export interface PauseEvidence {
  release: string;
  pauses: Array<{ leaf_index: number; leaf: string; checkpoint: string; proof: string[] }>;
}

/** A release as the lottery names it: vendor/product@version (src/rollout/lottery.ts). */
const RELEASE = /^[a-z0-9][a-z0-9-]{0,62}\/[a-z0-9][a-z0-9._-]{0,63}@[ -~]{1,64}$/;

export class RolloutEvidence {
  /** The activation leaf that first carried a target never changes once logged. */
  private readonly firstActivation = new BoundedCache<string, { idx: number; data: string }>(
    10_000,
  );

  constructor(private readonly log: LogStore) {}

  async forTarget(target: string): Promise<SaltEvidence> {
    if (!TARGET.test(target) || target.includes('..'))
      throw new FairpatchError('QUERY_INVALID', 'target: <vendor>/<file name>');
    const leaf = this.firstActivation.get(target) ?? (await this.findActivation(target));
    const rows = await this.log.db
      .selectFrom('log_checkpoints')
      .select(['size', 'note'])
      .where('size', '>', leaf.idx)
      .orderBy('size')
      .limit(64)
      .execute();
    const chosen = rows.filter(
      (r, i) => i === 0 || /\n\u2014 \S+ [A-Za-z0-9+/=]{100,}\n?$/mu.test(r.note),
    );
    const checkpoints = [];
    for (const r of chosen.slice(0, MAX_CHECKPOINTS + 1)) {
      const proof = await this.log.inclusionProof(leaf.idx, Number(r.size));
      checkpoints.push({
        note: r.note,
        proof: proof.map((p) => Buffer.from(p).toString('hex')),
      });
    }
    if (checkpoints.length === 0)
      throw new FairpatchError('NOT_FOUND', `no checkpoint holds the activation of ${target} yet`);
    return { target, leaf_index: leaf.idx, leaf: leaf.data, checkpoints };
  }

  /**
   * The node's automatic pause of a release (`rollout.auto-paused`, logged once per release under
   * its dedupe key) with its inclusion proof in the newest checkpoint: none yet is an empty list.
   */
  async autoPauses(release: string): Promise<PauseEvidence> {
    if (!RELEASE.test(release))
      throw new FairpatchError('QUERY_INVALID', 'release: <vendor>/<product>@<version>');
    const row = await this.log.db
      .selectFrom('log_leaves')
      .select(['idx', 'data'])
      .where('dedupe', '=', `auto-paused:${release}`)
      .executeTakeFirst();
    const checkpoint = row && (await this.log.latestCheckpoint());
    if (!row || !checkpoint) return { release, pauses: [] };
    const size = Number(checkpoint.note.split('\n')[1]);
    if (!(Number(row.idx) < size)) return { release, pauses: [] };
    const proof = await this.log.inclusionProof(Number(row.idx), size);
    return {
      release,
      pauses: [
        {
          leaf_index: Number(row.idx),
          leaf: row.data,
          checkpoint: checkpoint.note,
          proof: proof.map((p) => Buffer.from(p).toString('hex')),
        },
      ],
    };
  }

  private async findActivation(target: string): Promise<{ idx: number; data: string }> {
    const vendor = target.slice(0, target.indexOf('/'));
    const indices = await this.log.db
      .selectFrom('log_leaves')
      .select('idx')
      .where('dedupe', 'like', `activated:${vendor}:%`)
      .orderBy('idx')
      .limit(MAX_SCAN)
      .execute();
    const needle = JSON.stringify(JSON.stringify(target)).slice(1, -1);
    for (const { idx } of indices) {
      const row = await this.log.db
        .selectFrom('log_leaves')
        .select('data')
        .where('idx', '=', idx)
        .executeTakeFirst();
      if (!row || !row.data.includes(needle)) continue;
      const leaf = JSON.parse(row.data) as { type?: string; metadata?: string };
      if (leaf.type !== 'release.activated' || typeof leaf.metadata !== 'string') continue;
      const metadata = JSON.parse(leaf.metadata) as { signed?: { targets?: object } };
      if (!Object.hasOwn(metadata.signed?.targets ?? {}, target)) continue;
      const found = { idx: Number(idx), data: row.data };
      this.firstActivation.set(target, found);
      return found;
    }
    throw new FairpatchError('NOT_FOUND', `${target} has not been activated in the log`);
  }
}
