import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../common/files.js';
import { type LogDigest, restoredDigest, savedDigest, savedRuns } from './digest/log-digest.js';

// What an auditor keeps of a log between runs (in its --state directory, 0700, files 0600): the
// checkpoint it verified, the tree's right edge at that size (enough to extend the tree with new
// leaves and recompute the root), the digest of the verified leaves the verdicts are computed from
// (src/audit/digest/), and the roots at sizes agents' checkpoints named (each computed once, from
// tiles). The digest's runs, the part that grows with the receipts, are kept in files of their own:
// a run adds a file of the runs it added or changed, and the files are merged into one once they
// hold twice what is live, so a save writes O(what changed), and the files stay within twice the
// runs. Every file is written first, under a name of its own; `log-state.json` is written last and
// atomically: it is the commit, and names only files already written whole. A state that cannot be
// read, or does not match the saved checkpoint, is not used at all: the log is read whole.

const STATE_FILE = 'log-state.json';
const DIGEST = /^digest-(\d+)\.json$/;
const RUNS = /^runs-(\d+)-(\d+)\.json$/;
/** Past this many files of runs, or twice the live runs (and this many more) in them, they are merged. */
const MAX_RUN_FILES = 32;
const RUN_SLACK = 10_000;
/** What earlier versions kept: every leaf, in one file or in segments. Removed once a digest is saved. */
const LEGACY = /^leaves(-\d+-\d+)?\.json$/;

const hash = z.string().regex(/^[0-9a-f]{64}$/);
const count = z.number().int().nonnegative();
const stateSchema = z.strictObject({
  v: z.literal(2),
  /** The signed checkpoint this state was verified under (the `checkpoint` file, as written then). */
  checkpoint: z.string(),
  size: count,
  edge: z.array(hash),
  digest: z.string().regex(DIGEST),
  runs: z.array(z.strictObject({ file: z.string().regex(RUNS), count })),
  roots: z.record(z.string().regex(/^\d{1,16}$/), hash),
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

/** The digest the state names, or undefined when it cannot be read or is not the state's size. */
export function readStoredDigest(dir: string, state: LogState): LogDigest | undefined {
  try {
    const json = (file: string): unknown => JSON.parse(readFileSync(join(dir, file), 'utf8'));
    const digest = restoredDigest(
      json(state.digest),
      state.runs.map((r) => json(r.file)),
    );
    return digest.size === state.size ? digest : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Saves the state: the digest of the tree's leaves (its size is the tree's), its runs, then the
 * state that names them. With `kept` (the state the digest was read back from), only the runs
 * added or changed since are written, in a file beside the kept ones, unless the files are due to
 * be merged. Files no state names any more are removed after the state that drops them is written.
 */
export function writeLogState(
  dir: string,
  next: Omit<LogState, 'v' | 'digest' | 'size' | 'runs'>,
  digest: LogDigest,
  kept?: LogState,
): void {
  const file = `digest-${digest.size}.json`;
  writeFileAtomic(join(dir, file), JSON.stringify(savedDigest(digest)));
  const { changed, runs: live } = digest.receipts;
  const inFiles = (kept?.runs ?? []).reduce((n, r) => n + r.count, 0) + (changed?.size ?? 0);
  const append =
    kept !== undefined &&
    changed !== undefined &&
    kept.runs.length < MAX_RUN_FILES &&
    inFiles <= 2 * live.size + RUN_SLACK;
  const runs = append ? [...kept.runs] : [];
  const fresh = savedRuns(digest, append ? changed : undefined);
  if (fresh.length > 0) {
    const name = `runs-${append ? kept.size : 0}-${digest.size}.json`;
    writeFileAtomic(join(dir, name), JSON.stringify(fresh));
    runs.push({ file: name, count: fresh.length });
  }
  const state: LogState = { v: 2, ...next, size: digest.size, digest: file, runs };
  writeFileAtomic(join(dir, STATE_FILE), JSON.stringify(state));
  changed?.clear();
  const named = new Set([file, ...runs.map((r) => r.file)]);
  for (const name of readdirSync(dir))
    if (((DIGEST.test(name) || RUNS.test(name)) && !named.has(name)) || LEGACY.test(name))
      rmSync(join(dir, name), { force: true });
}
