import type { KeyRotation, KeyRotations } from './log-keys.js';
import type { LogStore } from './store.js';

/** The dedupe names of `log.key-rotated` leaves (src/release/evidence.ts: `log-key:<vkey>`). */
const PREFIX = 'log-key:';
/** At most this many announcements are served (the schema clients read with says the same). */
const MAX_ROTATIONS = 64;
/** The answer is rebuilt at most this often: it is public, and a rotation is a rare event. */
const FRESH_MS = 5_000;

/** Per log: the leaves scanned so far and the announcements found in them (leaves never change). */
interface Scan {
  upTo: number;
  rotations: KeyRotation[];
  at: number;
  answer: Promise<KeyRotations>;
}
const scans = new WeakMap<LogStore, Scan>();

/**
 * `GET /log/key-rotations`: each `log.key-rotated` leaf with the first checkpoint that includes it
 * (signed by the log key of that time: every checkpoint until the promotion is) and the inclusion
 * proof, so a client pinned to an earlier key follows the rotation alone (src/log/log-keys.ts).
 * Each scan reads only the leaves appended since the previous one (a range of the primary key).
 */
export function keyRotationProofs(log: LogStore, now = Date.now()): Promise<KeyRotations> {
  const scan = scans.get(log);
  if (scan && now - scan.at < FRESH_MS) return scan.answer;
  const previous = scan ?? { upTo: 0, rotations: [] };
  const answer = extend(log, previous.upTo, previous.rotations).then(({ upTo, rotations }) => {
    scans.set(log, { upTo, rotations, at: now, answer });
    return { rotations };
  });
  // Concurrent requests share this scan; a failed one is tried again by the next request.
  scans.set(log, { ...previous, at: now, answer });
  answer.catch(() => scans.delete(log));
  return answer;
}

async function extend(
  log: LogStore,
  from: number,
  found: readonly KeyRotation[],
): Promise<{ upTo: number; rotations: KeyRotation[] }> {
  const { size } = await log.head();
  const rotations = [...found];
  const leaves = await log.db
    .selectFrom('log_leaves')
    .select(['idx', 'data'])
    .where('idx', '>=', from)
    .where('idx', '<', size)
    .where('dedupe', 'like', `${PREFIX}%`)
    .orderBy('idx')
    .limit(MAX_ROTATIONS)
    .execute();
  for (const leaf of leaves) {
    if (rotations.length >= MAX_ROTATIONS) break;
    const index = Number(leaf.idx);
    const signed = await log.db
      .selectFrom('log_checkpoints')
      .select(['size', 'note'])
      .where('size', '>', index)
      .where('size', '<=', size)
      .orderBy('size')
      .limit(1)
      .executeTakeFirst();
    if (!signed) continue;
    const proof = await log.inclusionProof(index, Number(signed.size));
    rotations.push({
      index,
      leaf: leaf.data,
      checkpoint: signed.note,
      proof: proof.map((h) => Buffer.from(h).toString('hex')),
    });
  }
  return { upTo: size, rotations };
}
