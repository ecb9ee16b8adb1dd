import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/files.js';
import { openCheckpoint } from '../log/checkpoint.js';
import { verifiedCosigners } from '../log/cosignature.js';
import { LogKeyRing } from '../log/log-keys.js';
import { type Verifier, parseVerifierKey } from '../log/note.js';

/**
 * The agent's look at the repository's transparency log. A split view — one log shown to this
 * agent's group, another to the auditors — needs the operator's log key to sign two histories, and
 * a C2SP tlog-witness never cosigns two inconsistent checkpoints. So the agent checks what it can
 * alone (the log key signed it; the log never shrinks or changes at a size it already saw; enough
 * of its pinned witnesses cosigned it) and signs the checkpoint into its receipt either way: the
 * auditor compares it with the log it verified, and a difference is proof signed by the log key.
 */
export interface CheckpointPolicy {
  /** The log's C2SP verifier key (`keys/log.vkey`). */
  logKey: string;
  /** Verifier keys of witnesses whose cosignatures count. */
  witnesses: readonly string[];
  /** How many of them must have cosigned; 0: none required. */
  threshold: number;
}

export type CheckpointVerdict =
  | { ok: true; size: number; cosigners: string[] }
  | {
      ok: false;
      problem: 'invalid' | 'split-view' | 'unwitnessed';
      size?: number;
      message: string;
    };

interface Kept {
  size: number;
  root: string;
}

export class CheckpointWatch {
  /** The pinned log key and those the log announced under it since (kept in log-keys.json). */
  private readonly keys: LogKeyRing;
  private readonly witnesses: Verifier[];
  private readonly file: string;
  private readonly keysFile: string;

  constructor(
    private readonly policy: CheckpointPolicy,
    stateDir: string,
    now: () => number = Date.now,
  ) {
    this.witnesses = policy.witnesses.map((w) => parseVerifierKey(w));
    this.file = join(stateDir, 'log-checkpoint.json');
    this.keysFile = join(stateDir, 'log-keys.json');
    const learned = existsSync(this.keysFile)
      ? (JSON.parse(readFileSync(this.keysFile, 'utf8')) as { pinned: string; learned: string[] })
      : undefined;
    // Keys followed from another pinned key are not this log's: a new --log-key starts afresh.
    const kept = learned?.pinned === policy.logKey.trim() ? learned.learned : [];
    this.keys = new LogKeyRing(policy.logKey, kept, undefined, now);
  }

  /**
   * Follows a log key rotation from the log's announcements (`source`: its /log/key-rotations),
   * verified under a key this agent already trusts; the keys learned, kept across restarts.
   */
  async follow(source: () => Promise<unknown>): Promise<string[]> {
    const learned = await this.keys.refresh(source);
    if (learned.length > 0)
      writeFileAtomic(
        this.keysFile,
        JSON.stringify({ pinned: this.policy.logKey.trim(), learned: this.keys.learned() }),
      );
    return learned;
  }

  /** The largest checkpoint this agent accepted, across restarts. */
  private kept(): Kept | undefined {
    return existsSync(this.file)
      ? (JSON.parse(readFileSync(this.file, 'utf8')) as Kept)
      : undefined;
  }

  check(note: string): CheckpointVerdict {
    let size: number;
    let root: string;
    try {
      const checkpoint = openCheckpoint(note, this.keys.verifiers());
      size = checkpoint.size;
      root = checkpoint.rootHash.toString('hex');
    } catch (error) {
      return {
        ok: false,
        problem: 'invalid',
        message: `the log checkpoint served is not signed by the pinned log key, nor by one the log announced under it (${(error as Error).message})`,
      };
    }
    const kept = this.kept();
    // Same size, other root; or a smaller tree: the log key signed two histories. (Consistency
    // between different sizes needs the log's proof; the auditor checks that against its own view.)
    if (kept && (size < kept.size || (size === kept.size && root !== kept.root)))
      return {
        ok: false,
        problem: 'split-view',
        size,
        message: `the log checkpoint served (size ${size}) contradicts the one this agent accepted before (size ${kept.size}): the log key signed two histories`,
      };
    let cosigners: string[];
    try {
      cosigners = verifiedCosigners(note, this.witnesses).map((c) => c.name);
    } catch {
      cosigners = []; // a pinned witness's line that does not verify counts for nothing
    }
    if (cosigners.length < this.policy.threshold)
      return {
        ok: false,
        problem: 'unwitnessed',
        size,
        message: `the log checkpoint served (size ${size}) is cosigned by ${cosigners.length} of the pinned witnesses, fewer than the ${this.policy.threshold} required: it may be a view shown to this group only`,
      };
    if (!kept || size > kept.size) writeFileAtomic(this.file, JSON.stringify({ size, root }));
    return { ok: true, size, cosigners };
  }
}
