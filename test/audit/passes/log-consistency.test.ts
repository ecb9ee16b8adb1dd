import { describe, expect, it } from 'vitest';
import { logInconsistency } from '../../../src/audit/run.js';
import { openCheckpoint } from '../../../src/log/checkpoint.js';
import { parseVerifierKey } from '../../../src/log/note.js';
import { checkpointNote, noteKey, treeOf } from './build.js';

const log = noteKey('log.example');
const verifier = parseVerifierKey(log.vkey);
const honest = treeOf(['a', 'b', 'c', 'd', 'e']);
const rewritten = treeOf(['a', 'B', 'c', 'd', 'e']);

/** The auditor saved the checkpoint at `first`; the server now serves `served`, leaves and checkpoint. */
function judge(first: number, served: ReturnType<typeof treeOf>) {
  const saved = checkpointNote(log, honest, first);
  const now = checkpointNote(log, served);
  return logInconsistency({
    saved,
    served: now,
    previous: openCheckpoint(saved, verifier),
    checkpoint: openCheckpoint(now, verifier),
    servedRootAt: (size) => served.root(size),
  });
}

describe('logInconsistency', () => {
  it('the served log extends the saved one: nothing', () => {
    expect(judge(3, honest)).toEqual([]);
    expect(judge(5, honest)).toEqual([]);
  });

  it('log-inconsistent (proof): a leaf behind the saved checkpoint was rewritten', () => {
    const out = judge(3, rewritten);
    expect(out).toEqual([
      {
        kind: 'log-inconsistent',
        class: 'proof',
        unfair: true,
        message:
          "the log's checkpoint of size 5 is not consistent with the one this auditor saved (size 3): the log was rewritten",
        evidence: {
          saved_checkpoint: checkpointNote(log, honest, 3),
          served_checkpoint: checkpointNote(log, rewritten),
          reason: `the first 3 leaves of the served log hash to ${Buffer.from(rewritten.root(3)).toString('hex')}, not to the saved checkpoint's root ${Buffer.from(honest.root(3)).toString('hex')}`,
        },
      },
    ]);
    // What convicts is what the accused signed: both checkpoints open under the log's own key, and
    // the served leaves hash into the served one.
    for (const note of [out[0]!.evidence.saved_checkpoint, out[0]!.evidence.served_checkpoint])
      expect(() => openCheckpoint(note as string, verifier)).not.toThrow();
  });

  it('the log shrank', () => {
    const saved = checkpointNote(log, honest);
    const shrunk = checkpointNote(log, honest, 3);
    const out = logInconsistency({
      saved,
      served: shrunk,
      previous: openCheckpoint(saved, verifier),
      checkpoint: openCheckpoint(shrunk, verifier),
      servedRootAt: (size) => honest.root(size),
    });
    expect(out.map((f) => f.evidence.reason)).toEqual(['the log shrank from 5 to 3']);
  });
});
