import { expectOk } from '../net/errors.js';
import { textAtMost } from '../net/bounded.js';
import { reach } from '../net/unreachable.js';
import type { Leaf } from '../log/leaves.js';
import { MAX_LEAF_BYTES } from '../log/limits.js';
import type { Verifier } from '../log/note.js';
import { verifySaltEvidence } from '../rollout/evidence.js';
import { type AuditedSalt, stagedPlanOf } from './rollout.js';
import type { SaltHistories } from './salt-history.js';

/** Staged releases whose salt one audit fetches at most (each is one request and its checks). */
const MAX_STAGED_RELEASES = 256;

/**
 * The lottery salt of every staged release the log activated, from `GET /log/rollout-salt`, verified
 * as an agent verifies it: the log key, the inclusion of the activation, and every witness the
 * auditor pins (`--witness`). What cannot be verified is kept as its reason, never as a salt.
 */
export async function fetchRolloutSalts(input: {
  server: string;
  leaves: ReadonlyArray<{ index: number; leaf: Leaf }>;
  log: readonly Verifier[];
  witnesses: readonly Verifier[];
  /** Each pinned witness's cosigning history: a salt must come from the first checkpoint they cosigned. */
  histories?: SaltHistories;
}): Promise<Map<string, AuditedSalt>> {
  const out = new Map<string, AuditedSalt>();
  for (const { leaf } of input.leaves) {
    if (leaf.type !== 'release.activated' || !('metadata' in leaf)) continue;
    let paths: string[];
    try {
      paths = Object.keys(
        (JSON.parse(leaf.metadata) as { signed?: { targets?: object } }).signed?.targets ?? {},
      );
    } catch {
      continue;
    }
    for (const path of paths) {
      const staged = stagedPlanOf(leaf.vendor, leaf.metadata, [path]);
      if (!staged || out.has(staged.release)) continue;
      if (out.size >= MAX_STAGED_RELEASES) return out;
      try {
        const url = new URL(`/log/rollout-salt?target=${encodeURIComponent(path)}`, input.server);
        const response = await expectOk(await reach(url, { timeoutMs: 30_000 }), url.pathname);
        const verified = verifySaltEvidence({
          body: JSON.parse(await textAtMost(response, 2 * MAX_LEAF_BYTES + 1024 * 1024)),
          release: staged.release,
          target: { path, sha256: staged.sha256 },
          log: input.log,
          witnesses: input.witnesses,
        });
        out.set(
          staged.release,
          input.histories
            ? await input.histories.judge(staged.release, verified)
            : {
                salt: verified.salt,
                size: verified.size,
                witnesses: verified.witnesses,
                operatorChosen: verified.operatorChosen,
              },
        );
      } catch (error) {
        out.set(staged.release, { error: (error as Error).message });
      }
    }
  }
  return out;
}
