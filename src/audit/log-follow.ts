import { FairpatchError } from '../errors.js';
import type { Checkpoint } from '../log/checkpoint.js';
import { leafHash } from '../log/merkle.js';
import { CompactRange } from '../log/tiles.js';
import { type LogState, readLogState, readStoredLeaves, writeLogState } from './log-state.js';
import { TileReader } from './tile-reader.js';

/** The log as this run verified it, from tiles, and how to save what it verified. */
export interface FollowedLog {
  /** The leaves below `fresh`, verified and parsed in earlier runs (read back from the state). */
  stored: unknown[];
  /** The leaves from `fresh` to the checkpoint's size, read this run (JSON texts, not parsed yet). */
  leaves: string[];
  fresh: number;
  /** The served tree's root at the saved checkpoint's size (undefined: no saved one, or the log shrank). */
  rootAtSaved: Uint8Array | undefined;
  /** What this run fetched. */
  traffic: { requests: number; bytes: number };
  /** Roots of the served tree at `sizes` (each at most its size), from the saved ones or checked tiles. */
  roots(sizes: Iterable<number>): Promise<Map<number, Uint8Array>>;
  /** Receipt signatures in `stored` leaves that did not verify (all others did). */
  invalidSignatures: ReadonlySet<string>;
  /** Saves the state for the next run (not after a log-inconsistent finding). */
  save(checkpointNote: string, invalidSignatures: readonly string[]): void;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * Reads the log under `checkpoint` from its tiles. With a saved state that is the saved
 * checkpoint's, only entry bundles from the saved size on are fetched and hashed onto the saved
 * right edge: if that makes the checkpoint's root, the new tree extends the saved one (no other
 * proof is needed) and the run did O(new entries) reads and hashes. Otherwise (no state, a state
 * that is not the saved checkpoint's, or a served log that is not the saved one extended) every
 * leaf is read and hashed, and the root at the saved size is taken from them: the finding then
 * rests on the two signed checkpoints and the served log, judged as served.
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
  let extended = state ? await extend(reader, stateDir, state) : undefined;
  if (extended && !Buffer.from(extended.range.root()).equals(checkpoint.rootHash))
    extended = undefined;
  const kept = extended ? state : undefined;
  const read = extended ?? (await readAll(reader, saved?.checkpoint.size));
  if (!Buffer.from(read.range.root()).equals(checkpoint.rootHash))
    throw new FairpatchError(
      'PROOF_INVALID',
      'the entries served do not hash to the checkpoint root',
    );

  const known = new Map<number, Uint8Array>(
    Object.entries(kept?.roots ?? {}).map(([size, root]) => [
      Number(size),
      Buffer.from(root, 'hex'),
    ]),
  );
  known.set(checkpoint.size, checkpoint.rootHash);
  if (saved && read.rootAtSaved) known.set(saved.checkpoint.size, read.rootAtSaved);
  return {
    stored: read.stored,
    leaves: read.leaves,
    fresh: read.fresh,
    rootAtSaved: read.rootAtSaved,
    traffic: reader.traffic,
    invalidSignatures: new Set(kept?.invalid_signatures ?? []),
    async roots(sizes) {
      const out = new Map<number, Uint8Array>();
      for (const size of sizes) {
        let root = known.get(size);
        if (!root) known.set(size, (root = await reader.rootAt(size)));
        out.set(size, root);
      }
      return out;
    },
    save(note, invalidSignatures) {
      // Roots memoized for the sizes agents named: bounded by the distinct checkpoints in the log.
      const roots: Record<string, string> = {};
      for (const [size, root] of known)
        if (size !== checkpoint.size) roots[String(size)] = hex(root);
      writeLogState(
        stateDir,
        {
          checkpoint: note,
          size: checkpoint.size,
          edge: read.range.edge.map(hex),
          roots,
          invalid_signatures: [...invalidSignatures],
        },
        read.leaves,
        read.fresh,
        kept,
      );
    },
  };
}

interface Read {
  stored: unknown[];
  leaves: string[];
  fresh: number;
  range: CompactRange;
  rootAtSaved: Uint8Array | undefined;
}

/** The saved state if it is the saved checkpoint's (size, root from its edge) and the log has not shrunk. */
function usableState(
  dir: string,
  saved: { note: string; checkpoint: Checkpoint } | undefined,
  size: number,
): LogState | undefined {
  const state = readLogState(dir);
  if (!state || !saved || state.checkpoint !== saved.note) return undefined;
  if (state.size !== saved.checkpoint.size || state.size > size) return undefined;
  try {
    const range = CompactRange.of(
      state.size,
      state.edge.map((h) => Buffer.from(h, 'hex')),
    );
    return Buffer.from(range.root()).equals(saved.checkpoint.rootHash) ? state : undefined;
  } catch {
    return undefined;
  }
}

/** The saved leaves and edge, extended by the entries from the saved size on. */
async function extend(reader: TileReader, dir: string, state: LogState): Promise<Read | undefined> {
  let stored: unknown[];
  try {
    stored = readStoredLeaves(dir, state);
  } catch {
    return undefined;
  }
  const leaves: string[] = [];
  const range = CompactRange.of(
    state.size,
    state.edge.map((h) => Buffer.from(h, 'hex')),
  );
  const rootAtSaved = range.root();
  await reader.entries(state.size, reader.size, (_, leaf) => {
    range.append(leafHash(leaf));
    leaves.push(leaf.toString('utf8'));
  });
  return { stored, leaves, fresh: state.size, range, rootAtSaved };
}

/** Every leaf from 0, and the root at `savedSize` on the way (the saved checkpoint's, as served). */
async function readAll(reader: TileReader, savedSize: number | undefined): Promise<Read> {
  const range = CompactRange.empty();
  const leaves: string[] = [];
  let rootAtSaved = savedSize === 0 ? range.root() : undefined;
  await reader.entries(0, reader.size, (index, leaf) => {
    range.append(leafHash(leaf));
    leaves.push(leaf.toString('utf8'));
    if (index + 1 === savedSize) rootAtSaved = range.root();
  });
  return { stored: [], leaves, fresh: 0, range, rootAtSaved };
}
