import { describe, expect, it } from 'vitest';
import { cosign } from '../../src/log/cosignature.js';
import { parseVerifierKey } from '../../src/log/note.js';
import { deriveSalt } from '../../src/rollout/salt.js';
import { checkpointNote, noteKey, treeOf } from '../audit/passes/build.js';
import { errorCode } from '../helpers/errors.js';

const log = noteKey('log.example');
const [w1, w2] = [noteKey('w1'), noteKey('w2')];
const note = checkpointNote(log, treeOf(['a', 'b', 'c']));
const body = note.slice(0, note.lastIndexOf('\n\n') + 1);
const T = 1_772_323_200;
const logV = parseVerifierKey(log.vkey);
const witnesses = [parseVerifierKey(w1.vkey), parseVerifierKey(w2.vkey)];
const release = 'acme/acme-agent@2.4.1';
const line = (w: typeof w1, t = T) => cosign(body, w.name, w.secretKey, t);

describe('the lottery salt', () => {
  it('comes from every configured witness cosignature, in any order the note lists them', () => {
    const a = deriveSalt({ release, note: note + line(w1) + line(w2), log: logV, witnesses });
    const b = deriveSalt({ release, note: note + line(w2) + line(w1), log: logV, witnesses });
    expect(a.salt.equals(b.salt)).toBe(true);
    expect(a).toMatchObject({ size: 3, witnesses: ['w1', 'w2'], operatorChosen: false });
    // Another release under the same checkpoint draws another salt.
    const other = deriveSalt({
      release: 'acme/acme-agent@2.4.2',
      note: note + line(w1) + line(w2),
      log: logV,
      witnesses,
    });
    expect(other.salt.equals(a.salt)).toBe(false);
  });

  it('the node cannot pick a subset: one witness missing is refused', () => {
    expect(
      errorCode(() => deriveSalt({ release, note: note + line(w1), log: logV, witnesses })),
    ).toBe('CHECKPOINT_INVALID');
  });

  it('two cosignatures by one witness are refused: the salt would be the node’s pick', () => {
    const twice = note + line(w1) + line(w1, T + 1) + line(w2);
    expect(errorCode(() => deriveSalt({ release, note: twice, log: logV, witnesses }))).toBe(
      'CHECKPOINT_INVALID',
    );
  });

  it('a forged cosignature, or a note the log key did not sign, is refused', () => {
    const [dash, name, b64] = line(w1).trim().split(' ') as [string, string, string];
    const blob = Buffer.from(b64, 'base64');
    blob[75]! ^= 1;
    const forged = `${dash} ${name} ${blob.toString('base64')}\n`;
    expect(
      errorCode(() =>
        deriveSalt({ release, note: note + forged + line(w2), log: logV, witnesses }),
      ),
    ).toBe('SIGNATURE_INVALID');
    const other = noteKey('log.example');
    const byOther = checkpointNote(other, treeOf(['a', 'b', 'c']));
    expect(() =>
      deriveSalt({ release, note: byOther + line(w1) + line(w2), log: logV, witnesses }),
    ).toThrow(/not signed/);
  });

  it('without witnesses the salt is the log signature, marked operator-chosen', () => {
    const s = deriveSalt({ release, note, log: logV, witnesses: [] });
    expect(s).toMatchObject({ operatorChosen: true, witnesses: [], size: 3 });
  });
});

describe('the salt a node reads from its own log (dashboard)', () => {
  it('is the salt agents pinning exactly those witnesses derive', async () => {
    const { saltAsLogged } = await import('../../src/rollout/salt.js');
    const cosigned = note + line(w2) + line(w1);
    const pinned = deriveSalt({ release, note: cosigned, log: logV, witnesses });
    expect(saltAsLogged(release, cosigned)!.salt.equals(pinned.salt)).toBe(true);
    expect(saltAsLogged(release, note)).toBeUndefined();
    expect(saltAsLogged(release, note + line(w1) + line(w1, T + 1))).toBeUndefined();
  });
});
