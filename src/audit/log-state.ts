import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../common/files.js';
import { FairpatchError } from '../errors.js';

// What an auditor keeps of a log between runs (in its --state directory, 0700, files 0600): the
// checkpoint it verified, the tree's right edge at that size (enough to extend the tree with new
// leaves and recompute the root), the verified leaves the verdicts are computed from, in files of
// bounded size, and the roots at sizes agents' checkpoints named (each computed once, from tiles).
// `log-state.json` is written last and atomically: it is the commit, and names only files already
// written whole; a state that does not match the saved checkpoint is not used at all.

const STATE_FILE = 'log-state.json';
/** The auditor's state before tiles: every leaf in one file, rewritten every run. */
const LEGACY_LEAVES = 'leaves.json';
const SEGMENT = /^leaves-(\d+)-(\d+)\.json$/;
/** A run's new leaves join the last file while it stays this small, so short runs add no file each. */
const MERGE_BELOW_BYTES = 4 * 1024 * 1024;
/** A file of leaves holds about this many bytes at most (one leaf alone may pass it). */
const SEGMENT_BYTES = 64 * 1024 * 1024;

const hash = z.string().regex(/^[0-9a-f]{64}$/);
const count = z.number().int().nonnegative();
const stateSchema = z.strictObject({
  v: z.literal(1),
  /** The signed checkpoint this state was verified under (the `checkpoint` file, as written then). */
  checkpoint: z.string(),
  size: count,
  edge: z.array(hash),
  segments: z.array(
    z.strictObject({ start: count, end: count, bytes: count, file: z.string().regex(SEGMENT) }),
  ),
  roots: z.record(z.string().regex(/^\d{1,16}$/), hash),
  /**
   * Agent signatures in the saved leaves that did not verify. Every other receipt signature in them
   * did, and a signature's validity depends on nothing but the signed observation, so the next run
   * verifies only the receipts of new leaves. Intake refuses invalid ones: this list stays short.
   */
  invalid_signatures: z.array(z.string().max(256)).default([]),
});
export type LogState = z.output<typeof stateSchema>;

/** The saved state, or undefined when there is none or it cannot be read (then the log is read whole). */
export function readLogState(dir: string): LogState | undefined {
  const path = join(dir, STATE_FILE);
  if (!existsSync(path)) return undefined;
  try {
    return stateSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch {
    return undefined;
  }
}

/**
 * Every leaf the state names, in order, parsed. A file holds its leaves' own JSON texts as one JSON
 * array, so reading it back is one JSON.parse per file (each leaf was schema-checked when saved).
 */
export function readStoredLeaves(dir: string, state: LogState): unknown[] {
  const leaves: unknown[] = [];
  for (const segment of state.segments) {
    const part = JSON.parse(readFileSync(join(dir, segment.file), 'utf8')) as unknown;
    if (
      segment.start !== leaves.length ||
      !Array.isArray(part) ||
      part.length !== segment.end - segment.start
    )
      throw new FairpatchError(
        'BAD_REQUEST',
        `${segment.file} in ${dir} is not what its state says`,
      );
    for (const leaf of part) leaves.push(leaf);
  }
  if (leaves.length !== state.size)
    throw new FairpatchError(
      'BAD_REQUEST',
      `the state in ${dir} names ${leaves.length} leaves, not ${state.size}`,
    );
  return leaves;
}

/**
 * Saves the state for a tree whose leaves from `start` on are `fresh` (their JSON texts); those
 * before were saved by `kept`, whose files are reused (a small last one is extended, under a new
 * name). Without `kept`, `start` is 0. Files no state names any more are removed after the state
 * that drops them is written.
 */
export function writeLogState(
  dir: string,
  next: Omit<LogState, 'v' | 'segments'>,
  fresh: readonly string[],
  start: number,
  kept: LogState | undefined,
): void {
  const segments = kept ? [...kept.segments] : [];
  let at = 0;
  let carried: { start: number; text: string; bytes: number } | undefined;
  const last = segments.at(-1);
  if (last && last.bytes < MERGE_BELOW_BYTES && fresh.length > 0) {
    segments.pop();
    const text = readFileSync(join(dir, last.file), 'utf8');
    carried = { start: last.start, text: text.slice(1, -1), bytes: last.bytes };
  }
  while (at < fresh.length) {
    const first = carried?.start ?? start + at;
    let bytes = carried?.bytes ?? 0;
    const begin = at;
    while (at < fresh.length && (at === begin || bytes + fresh[at]!.length <= SEGMENT_BYTES))
      bytes += fresh[at++]!.length;
    // Joined, never spread into arguments: a run can bring a million leaves.
    const added = fresh.slice(begin, at).join(',');
    const text = carried && carried.text.length > 0 ? `${carried.text},${added}` : added;
    carried = undefined;
    const end = start + at;
    const file = `leaves-${first}-${end}.json`;
    writeFileAtomic(join(dir, file), `[${text}]`);
    segments.push({ start: first, end, bytes, file });
  }
  const state: LogState = { v: 1, ...next, segments };
  writeFileAtomic(join(dir, STATE_FILE), JSON.stringify(state));
  const named = new Set(segments.map((s) => s.file));
  for (const file of readdirSync(dir))
    if ((SEGMENT.test(file) && !named.has(file)) || file === LEGACY_LEAVES)
      rmSync(join(dir, file), { force: true });
}
