import { FairpatchError } from '../errors.js';
import type { Checkpoint } from '../log/checkpoint.js';
import { leafHash } from '../log/merkle.js';
import { CompactRange } from '../log/tiles.js';
import { parseLeaf } from '../log/leaves.js';
import { type LogDigest, emptyLogDigest, foldLeaf, foldMemo } from './digest/log-digest.js';
import { type LogState, readLogState, readStoredDigest, writeLogState } from './log-state.js';
import { TileReader } from './tile-reader.js';

/** The log as this run verified it, from tiles, and how to save what it verified. */
export interface FollowedLog {
  /** Every leaf up to the checkpoint's size, folded: the saved digest extended by this run's leaves. */
  digest: LogDigest;
  /** The served tree's root at the saved checkpoint's size (undefined: no saved one, or the log shrank). */
  rootAtSaved: Uint8Array | undefined;
  /** What this run fetched. */
  traffic: { requests: number; bytes: number };
  /** Roots of the served tree at `sizes` (each at most its size), from the saved ones or checked tiles. */
  roots(sizes: Iterable<number>): Promise<Map<number, Uint8Array>>;
  /** Saves the state for the next run (not after a log-inconsistent finding). */
  save(checkpointNote: string): void;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * Reads the log under `checkpoint` from its tiles, folding each leaf into the digest the verdicts
 * are computed from (src/audit/digest/). With a saved state that is the saved checkpoint's, only
 * entry bundles from the saved size on are fetched, hashed onto the saved right edge and folded into
 * the saved digest: if that makes the checkpoint's root, the new tree extends the saved one (no other
 * proof is needed) and the run did O(new entries) reads, hashes and folds. Otherwise (no state, a
 * state that is not the saved checkpoint's, or a served log that is not the saved one extended) every
 * leaf is read, hashed and folded from the first, and the root at the saved size is taken from them:
 * the finding then rests on the two signed checkpoints and the served log, judged as served. Nothing
 * folded counts until the leaves hash to the checkpoint's root.
 */
export async function followLog(input: {
  server: string;
  stateDir: string;
  checkpoint: Checkpoint;
  saved: { note: string; checkpoint: Checkpoint } | undefined;
  /** Whether a saved state may be extended at all (not when the served checkpoint is in doubt). */
  useState: boolean;
}): Promise<FollowedLog> {
  const { checkpoint, saved, stateDir } = input;
  const reader = new TileReader(input.server, checkpoint.size, checkpoint.rootHash);
  const state = input.useState ? usableState(stateDir, saved, checkpoint.size) : undefined;
  let extended = state ? await extend(reader, state.state, state.digest) : undefined;
  if (extended && !Buffer.from(extended.range.root()).equals(checkpoint.rootHash))
    extended = undefined;
  const kept = extended ? state!.state : undefined;
  const read = extended ?? (await readAll(reader, saved?.checkpoint.size));
  if (!Buffer.from(read.range.root()).equals(checkpoint.rootHash))
    throw new FairpatchError(
      'PROOF_INVALID',
      'the entries served do not hash to the checkpoint root',
    );
  if (read.unreadable) throw read.unreadable;

  const known = new Map<number, Uint8Array>(
    Object.entries(kept?.roots ?? {}).map(([size, root]) => [
      Number(size),
      Buffer.from(root, 'hex'),
    ]),
  );
  known.set(checkpoint.size, checkpoint.rootHash);
  if (saved && read.rootAtSaved) known.set(saved.checkpoint.size, read.rootAtSaved);
  return {
    digest: read.digest,
    rootAtSaved: read.rootAtSaved,
    traffic: reader.traffic,
    async roots(sizes) {
      const out = new Map<number, Uint8Array>();
      for (const size of sizes) {
        let root = known.get(size);
        if (!root) known.set(size, (root = await reader.rootAt(size)));
        out.set(size, root);
      }
      return out;
    },
    save(note) {
      // Roots memoized for the sizes agents named: bounded by the distinct checkpoints in the log.
      const roots: Record<string, string> = {};
      for (const [size, root] of known)
        if (size !== checkpoint.size) roots[String(size)] = hex(root);
      writeLogState(
        stateDir,
        { checkpoint: note, edge: read.range.edge.map(hex), roots },
        read.digest,
        kept,
      );
    },
  };
}

interface Read {
  digest: LogDigest;
  range: CompactRange;
  rootAtSaved: Uint8Array | undefined;
  /** The first leaf that is no leaf of this log's kinds: refused once the leaves are known to be the log's. */
  unreadable?: Error;
}

/** The saved state and its digest, if it is the saved checkpoint's (size, root from its edge) and the log has not shrunk. */
function usableState(
  dir: string,
  saved: { note: string; checkpoint: Checkpoint } | undefined,
  size: number,
): { state: LogState; digest: LogDigest } | undefined {
  const state = readLogState(dir);
  if (!state || !saved || state.checkpoint !== saved.note) return undefined;
  if (state.size !== saved.checkpoint.size || state.size > size) return undefined;
  try {
    const range = CompactRange.of(
      state.size,
      state.edge.map((h) => Buffer.from(h, 'hex')),
    );
    if (!Buffer.from(range.root()).equals(saved.checkpoint.rootHash)) return undefined;
  } catch {
    return undefined;
  }
  const digest = readStoredDigest(dir, state);
  return digest ? { state, digest } : undefined;
}

/** Hashes and folds the leaves from `start` to the reader's size onto `range` and `digest`. */
async function foldFrom(
  reader: TileReader,
  start: number,
  range: CompactRange,
  digest: LogDigest,
  atEach?: (index: number) => void,
): Promise<Error | undefined> {
  const memo = foldMemo(digest);
  let unreadable: Error | undefined;
  await reader.entries(start, reader.size, (index, leaf) => {
    range.append(leafHash(leaf));
    atEach?.(index);
    if (unreadable) return;
    try {
      foldLeaf(digest, parseLeaf(leaf), memo);
    } catch (error) {
      unreadable = error as Error;
    }
  });
  return unreadable;
}

/** The saved digest and edge, extended by the entries from the saved size on. */
async function extend(
  reader: TileReader,
  state: LogState,
  digest: LogDigest,
): Promise<Read | undefined> {
  const range = CompactRange.of(
    state.size,
    state.edge.map((h) => Buffer.from(h, 'hex')),
  );
  const rootAtSaved = range.root();
  const unreadable = await foldFrom(reader, state.size, range, digest);
  // A leaf the saved digest cannot take: read the log whole, and judge it as served.
  if (unreadable) return undefined;
  return { digest, range, rootAtSaved };
}

/** Every leaf from 0, and the root at `savedSize` on the way (the saved checkpoint's, as served). */
async function readAll(reader: TileReader, savedSize: number | undefined): Promise<Read> {
  const range = CompactRange.empty();
  const digest = emptyLogDigest();
  let rootAtSaved = savedSize === 0 ? range.root() : undefined;
  const unreadable = await foldFrom(reader, 0, range, digest, (index) => {
    if (index + 1 === savedSize) rootAtSaved = range.root();
  });
  return { digest, range, rootAtSaved, ...(unreadable ? { unreadable } : {}) };
}
