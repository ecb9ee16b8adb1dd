import { describe, expect, it } from 'vitest';
import { unwitnessed } from '../../../src/audit/run.js';
import { cosign } from '../../../src/log/cosignature.js';
import { checkpointNote, noteKey, treeOf } from './build.js';

const log = noteKey('log.example');
const [w1, w2, w3] = [noteKey('w1'), noteKey('w2'), noteKey('w3')];
const note = checkpointNote(log, treeOf(['a', 'b', 'c']));
const body = note.slice(0, note.lastIndexOf('\n\n') + 1);
const T = 1_772_323_200;
const cosigned = (...by: Array<typeof w1>) =>
  note + by.map((w) => cosign(body, w.name, w.secretKey, T)).join('');

describe('unwitnessed', () => {
  it('cosigned by exactly the required number of the given witnesses: nothing', () => {
    expect(
      unwitnessed(cosigned(w1, w2), { keys: [w1.vkey, w2.vkey, w3.vkey], threshold: 2 }),
    ).toEqual([]);
  });

  it('checkpoint-unwitnessed (cannot verify): one cosignature short', () => {
    const served = cosigned(w1);
    expect(unwitnessed(served, { keys: [w1.vkey, w2.vkey], threshold: 2 })).toEqual([
      {
        kind: 'checkpoint-unwitnessed',
        class: 'cannot-verify',
        unfair: false,
        message:
          'the served checkpoint carries 1 valid cosignature(s) of the given witnesses, fewer than the 2 required',
        evidence: { checkpoint: served, cosigned_by: ['w1'] },
      },
    ]);
  });

  it('a cosignature by a witness not given does not count', () => {
    const out = unwitnessed(cosigned(w1, w3), { keys: [w1.vkey, w2.vkey], threshold: 2 });
    expect(out.map((f) => f.evidence.cosigned_by)).toEqual([['w1']]);
  });

  it("a cosignature under a given witness's name by another key, or over another checkpoint, counts for nothing", () => {
    // Signed by w3's key under w1's name: not w1's key id, so not w1's cosignature.
    const impostor = note + cosign(body, w1.name, w3.secretKey, T);
    expect(
      unwitnessed(impostor, { keys: [w1.vkey], threshold: 1 }).map((f) => f.evidence.cosigned_by),
    ).toEqual([[]]);
    // w1's real key, but over another checkpoint: it does not verify, and the finding says so.
    const other = checkpointNote(log, treeOf(['a', 'b', 'c', 'd']));
    const moved =
      note + cosign(other.slice(0, other.lastIndexOf('\n\n') + 1), w1.name, w1.secretKey, T);
    const out = unwitnessed(moved, { keys: [w1.vkey], threshold: 1 });
    expect(out.map((f) => [f.kind, f.class, f.unfair, f.evidence.cosigned_by])).toEqual([
      ['checkpoint-unwitnessed', 'cannot-verify', false, []],
    ]);
    expect(out[0]!.message).toMatch(/\(the cosignature by w1 does not verify\)$/);
  });
});
