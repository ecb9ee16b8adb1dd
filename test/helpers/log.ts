import type { Checkpoint } from '../../src/log/checkpoint.js';
import { verifyConsistency } from '../../src/log/merkle.js';
import type { MemoryTree } from '../../src/log/tree.js';

/**
 * Throws unless the log held in `tree`, at checkpoint `current`, is an append-only extension of the
 * one `earlier` committed to (an empty or equal-sized earlier checkpoint needs no proof).
 */
export function verifyExtends(earlier: Checkpoint, current: Checkpoint, tree: MemoryTree): void {
  verifyConsistency(
    earlier.size,
    current.size,
    earlier.rootHash,
    current.rootHash,
    earlier.size === 0 || earlier.size === current.size
      ? []
      : tree.consistencyProof(earlier.size, current.size),
  );
}
