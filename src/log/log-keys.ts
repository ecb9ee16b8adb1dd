import { z } from 'zod';
import { FairpatchError } from '../errors.js';
import { openCheckpoint } from './checkpoint.js';
import { type Leaf, parseLeaf } from './leaves.js';
import { leafHash, verifyInclusion } from './merkle.js';
import { type Verifier, parseVerifierKey, verifierKey } from './note.js';

// A log key rotates through the log itself, the way a TUF root rotates through the root before it:
// `fairpatch log rotate begin` makes the nodes announce the next key in a `log.key-rotated` leaf,
// under checkpoints the current key signs. Whoever trusts the current key (an auditor, a witness, an
// agent) may trust the announced one from that leaf on: the old key vouched for it. Everyone follows
// with the code here, so an auditor, a witness and an agent never disagree about which keys a log has.

/** Log keys announced by these leaves (verified leaves: the caller checked them under a trusted checkpoint). */
export function announcedLogKeys(leaves: Iterable<Leaf>): string[] {
  const keys: string[] = [];
  for (const leaf of leaves) if (leaf.type === 'log.key-rotated') keys.push(leaf.vkey);
  return keys;
}

/**
 * `GET /log/key-rotations` on a log: for each announcement, the leaf, the first checkpoint that
 * includes it (signed by the key of that time, and by the announced one) and the inclusion proof.
 * Everything in it comes from the network: bounded here, verified by `followLogKeys`.
 */
export const keyRotationsSchema = z.strictObject({
  rotations: z
    .array(
      z.strictObject({
        index: z.number().int().nonnegative(),
        leaf: z.string().max(1000),
        checkpoint: z.string().max(10_000),
        proof: z.array(z.string().regex(/^[0-9a-f]{64}$/)).max(64),
      }),
    )
    .max(64),
});
export type KeyRotations = z.infer<typeof keyRotationsSchema>;
export type KeyRotation = KeyRotations['rotations'][number];

/** Largest `/log/key-rotations` answer worth reading. */
export const MAX_KEY_ROTATIONS_BYTES = 64 * 64 * 1024;

/**
 * The keys `rotations` prove, starting from `trusted` (verifier keys): an announcement counts when
 * its leaf is included in a checkpoint that a key already trusted signed, so a chain of rotations is
 * followed in one go, and a key nobody trusted vouched for never enters. Returns the keys learned,
 * in order; anything that does not verify is skipped (a log that serves junk teaches nothing).
 */
export function followLogKeys(trusted: readonly string[], rotations: KeyRotations): string[] {
  const known = new Set(trusted.map((k) => k.trim()));
  const origin = parseVerifierKey(trusted[0] ?? '').name;
  const learned: string[] = [];
  for (let progress = true; progress;) {
    progress = false;
    const verifiers = [...known].map((k) => parseVerifierKey(k));
    for (const rotation of rotations.rotations) {
      const vkey = provenKey(rotation, verifiers, origin);
      if (vkey === undefined || known.has(vkey)) continue;
      known.add(vkey);
      learned.push(vkey);
      progress = true;
    }
  }
  return learned;
}

/** The key one announcement proves to holders of `verifiers`, or undefined. */
function provenKey(
  rotation: KeyRotation,
  verifiers: readonly Verifier[],
  origin: string,
): string | undefined {
  try {
    const bytes = Buffer.from(rotation.leaf, 'utf8');
    const leaf = parseLeaf(bytes);
    if (leaf.type !== 'log.key-rotated') return undefined;
    const checkpoint = openCheckpoint(rotation.checkpoint, verifiers, origin);
    verifyInclusion(
      rotation.index,
      checkpoint.size,
      leafHash(bytes),
      rotation.proof.map((h) => Buffer.from(h, 'hex')),
      checkpoint.rootHash,
    );
    const vkey = leaf.vkey.trim();
    // The next key of this log: same origin (a checkpoint names its log by the key's name).
    return parseVerifierKey(vkey).name === origin ? vkey : undefined;
  } catch (error) {
    if (error instanceof FairpatchError) return undefined;
    throw error;
  }
}

/**
 * The log keys one client trusts: the key it pinned, and those it followed. `source` fetches the
 * log's `/log/key-rotations` (the caller's transport); it is asked at most every `minRefreshMs`, when
 * a checkpoint does not verify, so a flood of badly signed checkpoints is not a flood of fetches.
 */
export class LogKeyRing {
  private readonly keys: string[];
  private lastRefresh = Number.NEGATIVE_INFINITY;

  constructor(
    pinned: string | Verifier,
    learned: readonly string[],
    private readonly source: (() => Promise<unknown>) | undefined,
    private readonly now: () => number,
    private readonly minRefreshMs = 10_000,
  ) {
    const first = typeof pinned === 'string' ? pinned : verifierKey(pinned.name, pinned.publicKey);
    this.keys = [first.trim(), ...learned.map((k) => k.trim())];
    for (const k of this.keys) parseVerifierKey(k);
  }

  /** Every trusted key, the pinned one first. */
  verifierKeys(): readonly string[] {
    return this.keys;
  }

  verifiers(): Verifier[] {
    return this.keys.map((k) => parseVerifierKey(k));
  }

  /** Keys learned beyond the pinned one (what a client keeps across restarts). */
  learned(): string[] {
    return this.keys.slice(1);
  }

  /** The log's origin (the keys' name). */
  get origin(): string {
    return parseVerifierKey(this.keys[0]!).name;
  }

  /**
   * Asks the log (`source`, or the ring's own) for its rotations and follows them; the keys
   * learned. None when asked too soon
   * after the last time, or when the log could not be reached or answered nothing that verifies.
   */
  async refresh(source = this.source): Promise<string[]> {
    if (!source || this.now() - this.lastRefresh < this.minRefreshMs) return [];
    this.lastRefresh = this.now();
    let body: unknown;
    try {
      body = await source();
    } catch {
      return [];
    }
    const parsed = keyRotationsSchema.safeParse(body);
    if (!parsed.success) return [];
    const learned = followLogKeys(this.keys, parsed.data);
    this.keys.push(...learned);
    return learned;
  }
}
