import { describe, expect, it } from 'vitest';
import { errorCode, loadVectors } from '../helpers/errors.js';
import { openCheckpoint, parseCheckpoint, signCheckpoint } from '../../src/log/checkpoint.js';
import { openNote, parseVerifierKey, verifierKey } from '../../src/log/note.js';
import { generateKeyPair } from '../../src/tuf/keys.js';

const vectors = loadVectors<{ signed_note_example: { vkey: string; note: string } }>();
const { vkey, note } = vectors.signed_note_example;

describe('C2SP signed-note', () => {
  it('verifies the spec example with its verifier key, and formats that key back', () => {
    const verifier = parseVerifierKey(vkey);
    expect(openNote(note, [verifier])).toEqual({
      text: 'This is an example message.\n',
      verifiedBy: ['example.com/foo'],
    });
    expect(verifierKey(verifier.name, verifier.publicKey)).toBe(vkey);
  });

  describe('when the note is tampered with', () => {
    const verifier = parseVerifierKey(vkey);
    it('a changed text', () =>
      expect(errorCode(() => openNote(note.replace('example', 'exemple'), [verifier]))).toBe(
        'SIGNATURE_INVALID',
      ));
    it('a flipped signature byte', () => {
      const line = note.split('\n')[2]!;
      const b64 = line.split(' ')[2]!;
      const blob = Buffer.from(b64, 'base64');
      blob[10]! ^= 1;
      expect(
        errorCode(() => openNote(note.replace(b64, blob.toString('base64')), [verifier])),
      ).toBe('SIGNATURE_INVALID');
    });
    it('an unknown key only', () =>
      expect(
        errorCode(() =>
          openNote(note, [parseVerifierKey(verifierKey('other', generateKeyPair().publicKey))]),
        ),
      ).toBe('SIGNATURE_INVALID'));
    it('a hyphen instead of the em dash', () =>
      expect(errorCode(() => openNote(note.replace('\u2014', '-'), [verifier]))).toBe(
        'NOTE_INVALID',
      ));
    it('no blank line before the signatures', () =>
      expect(errorCode(() => openNote(note.replace('\n\n', '\n'), [verifier]))).toBe(
        'NOTE_INVALID',
      ));
    it('a verifier key with a wrong key id', () =>
      expect(errorCode(() => parseVerifierKey(vkey.replace('+530d903a+', '+530d903b+')))).toBe(
        'NOTE_INVALID',
      ));
  });
});

describe('C2SP checkpoints', () => {
  const key = generateKeyPair();
  const origin = 'fairpatch.test/log';
  const verifier = parseVerifierKey(verifierKey(origin, key.publicKey));
  const signed = signCheckpoint(
    { origin, size: 42, rootHash: Buffer.alloc(32, 7) },
    origin,
    key.secretKey,
  );

  it('round-trips', () => {
    expect(openCheckpoint(signed, verifier)).toMatchObject({
      origin,
      size: 42,
      rootHash: Buffer.alloc(32, 7),
    });
  });

  it('rejects a checkpoint with any single flipped byte', () => {
    const bytes = Buffer.from(signed, 'utf8');
    for (let i = 0; i < bytes.length; i++) {
      const tampered = Buffer.from(bytes);
      tampered[i]! ^= 0x01;
      expect(
        errorCode(() => openCheckpoint(tampered.toString('utf8'), verifier)),
        `byte ${i}`,
      ).not.toBe('ACCEPTED');
    }
  });

  it('rejects malformed bodies', () => {
    for (const body of [
      'o\n042\n' + Buffer.alloc(32).toString('base64') + '\n',
      'o\n1\nAAAA\n',
      '\n1\n' + Buffer.alloc(32).toString('base64') + '\n',
      'o\n1\n' + Buffer.alloc(32).toString('base64'),
    ]) {
      expect(errorCode(() => parseCheckpoint(body))).toBe('CHECKPOINT_INVALID');
    }
  });
});
