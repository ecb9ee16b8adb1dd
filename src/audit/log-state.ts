import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../common/files.js';
import { type LogDigest, restoredDigest, savedDigest } from './digest/log-digest.js';

// What an auditor keeps of a log between runs (in its --state directory, 0700, files 0600): the
// checkpoint it verified, the tree's right edge at that size (enough to extend the tree with new
// leaves and recompute the root), the digest of the verified leaves the verdicts are computed from
// (src/audit/digest/), and the roots at sizes agents' checkpoints named (each computed once, from
// tiles). The digest is written first, under a name of its own; `log-state.json` is written last
// and atomically: it is the commit, and names only a file already written whole. A state that
// cannot be read, or does not match the saved checkpoint, is not used at all: the log is read whole.

const STATE_FILE = 'log-state.json';
const DIGEST = /^digest-(\d+)\.json$/;
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
    const digest = restoredDigest(JSON.parse(readFileSync(join(dir, state.digest), 'utf8')));
    return digest.size === state.size ? digest : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Saves the state: the digest of the tree's leaves (its size is the tree's), then the state that
 * names it. Files no state names any more are removed after the state that drops them is written.
 */
export function writeLogState(
  dir: string,
  next: Omit<LogState, 'v' | 'digest' | 'size'>,
  digest: LogDigest,
): void {
  const file = `digest-${digest.size}.json`;
  writeFileAtomic(join(dir, file), JSON.stringify(savedDigest(digest)));
  const state: LogState = { v: 2, ...next, size: digest.size, digest: file };
  writeFileAtomic(join(dir, STATE_FILE), JSON.stringify(state));
  for (const name of readdirSync(dir))
    if ((DIGEST.test(name) && name !== file) || LEGACY.test(name))
      rmSync(join(dir, name), { force: true });
}
