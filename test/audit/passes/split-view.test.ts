import { describe, expect, it } from 'vitest';
import type { Seen } from '../../../src/audit/observations.js';
import { splitViews } from '../../../src/audit/split-view.js';
import { parseVerifierKey } from '../../../src/log/note.js';
import { checkpointNote, noteKey, treeOf } from './build.js';

const log = noteKey('log.example');
const verified = treeOf(['a', 'b', 'c', 'd']);
const forked = treeOf(['a', 'b', 'x', 'd']);

/** A run the auditor accepted, carrying `checkpoints`; only the fields this pass reads matter. */
const seen = (group: string, checkpoints: string[]): Seen =>
  ({ agent: `agent-${group}`, group, checkpoints, source: 'log' }) as unknown as Seen;

const run = (runs: Seen[]) =>
  splitViews({
    seen: runs,
    logKeys: [parseVerifierKey(log.vkey)],
    logSize: verified.size,
    rootAt: (size) => verified.root(size),
  });

describe('splitViews', () => {
  it('checkpoints of the verified tree, at any size up to it: nothing', () => {
    expect(
      run([seen('eu', [checkpointNote(log, verified, 2), checkpointNote(log, verified)])]),
    ).toEqual([]);
  });

  it('log-split-view (proof): the log key signed another root at a size the auditor verified', () => {
    const note = checkpointNote(log, forked, 3);
    const out = run([
      seen('eu', [note]),
      seen('us', [note]),
      seen('ap', [checkpointNote(log, verified, 3)]),
    ]);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({
      kind: 'log-split-view',
      class: 'proof',
      unfair: true,
      group: 'eu',
      evidence: {
        checkpoint: note,
        verified_root: Buffer.from(verified.root(3)).toString('hex'),
        groups: ['eu', 'us'],
      },
    });
  });

  it('a checkpoint signed by any other key convicts nobody: an agent could have written it', () => {
    const stranger = { name: log.name, secretKey: noteKey('other').secretKey };
    expect(run([seen('eu', [checkpointNote(stranger, forked, 3)])])).toEqual([]);
  });

  it('a checkpoint larger than the verified log says nothing (seen after the auditor fetched its own)', () => {
    const bigger = treeOf(['a', 'b', 'c', 'd', 'e']);
    expect(run([seen('eu', [checkpointNote(log, bigger)])])).toEqual([]);
  });
});
