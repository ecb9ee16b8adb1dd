import { createHash } from 'node:crypto';
import { ed25519Sign, ed25519Verify } from '../common/ed25519.js';
import { FairpatchError } from '../errors.js';

// C2SP signed-note (https://c2sp.org/signed-note) with Ed25519 keys (signature type 0x01).

const ED25519 = 0x01;
const EM_DASH = '\u2014';
const MAX_SIGNATURES = 100;

export interface Verifier {
  name: string;
  keyId: Buffer;
  publicKey: Uint8Array;
}

const invalid = (message: string): never => {
  throw new FairpatchError('NOTE_INVALID', message);
};

/** Key names: non-empty, no whitespace, no '+' (they separate the fields of a key string). */
function checkName(name: string): void {
  if (name.length === 0 || /[\s+]/u.test(name))
    invalid(`key name ${JSON.stringify(name)} is not allowed`);
}

/** keyid = first 4 bytes of SHA-256(name || "\n" || 0x01 || public key). */
export function noteKeyId(name: string, publicKey: Uint8Array): Buffer {
  return createHash('sha256')
    .update(name, 'utf8')
    .update('\n')
    .update(Buffer.from([ED25519]))
    .update(publicKey)
    .digest()
    .subarray(0, 4);
}

/** The verifier key string `name+<8 hex keyid>+<base64(0x01 || public key)>` that auditors pin. */
export function verifierKey(name: string, publicKey: Uint8Array): string {
  checkName(name);
  return `${name}+${noteKeyId(name, publicKey).toString('hex')}+${Buffer.concat([Buffer.from([ED25519]), publicKey]).toString('base64')}`;
}

export function parseVerifierKey(text: string): Verifier {
  // Names and key ids hold no '+', but base64 may: split at the first two only.
  const match = /^([^+]+)\+([^+]+)\+(.+)$/s.exec(text.trim());
  if (!match) invalid('verifier key is name+keyid+key');
  const [, name, hexId, b64] = match as unknown as [string, string, string, string];
  checkName(name);
  const key = Buffer.from(b64, 'base64');
  if (
    !/^[0-9a-f]{8}$/.test(hexId) ||
    key.length !== 33 ||
    key[0] !== ED25519 ||
    key.toString('base64') !== b64
  )
    invalid('verifier key is not an Ed25519 note key');
  const publicKey = key.subarray(1);
  const keyId = noteKeyId(name, publicKey);
  if (keyId.toString('hex') !== hexId) invalid('verifier key id does not match its key');
  return { name, keyId, publicKey };
}

/** Signs `text` (which must end in a newline) as a note, with one key or several (co-signing). */
export function signNote(
  text: string,
  name: string,
  secretKey: Uint8Array | readonly Uint8Array[],
): string {
  checkName(name);
  if (!text.endsWith('\n')) invalid('note text must end with a newline');
  const keys = secretKey instanceof Uint8Array ? [secretKey] : secretKey;
  const lines = keys.map((key) => {
    const sig = ed25519Sign(key, Buffer.from(text, 'utf8'));
    return `${EM_DASH} ${name} ${Buffer.concat([noteKeyId(name, key.subarray(32)), sig]).toString('base64')}\n`;
  });
  return `${text}\n${lines.join('')}`;
}

export interface OpenedNote {
  text: string;
  /** Signatures by the given verifiers that verified (others are ignored, per the spec). */
  verifiedBy: string[];
}

/**
 * Parses a note and checks its signatures against `verifiers`. Throws NOTE_INVALID when malformed,
 * SIGNATURE_INVALID when no known key signed it, or when a known key's signature does not verify.
 */
export function openNote(note: string, verifiers: readonly Verifier[]): OpenedNote {
  if (note.length > 1 << 20) invalid('note is too large');
  if (!note.endsWith('\n')) invalid('note must end with a newline');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) invalid('note has no signature block');
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) invalid('too many signatures');
  const verifiedBy: string[] = [];
  for (const line of lines) {
    const match = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/u.exec(line);
    if (!match) invalid(`malformed signature line ${JSON.stringify(line.slice(0, 80))}`);
    const [, name, b64] = match as unknown as [string, string, string];
    const blob = Buffer.from(b64, 'base64');
    if (blob.length < 5 || blob.toString('base64') !== b64)
      invalid('signature is not base64 of keyid || signature');
    const verifier = verifiers.find((v) => v.name === name && v.keyId.equals(blob.subarray(0, 4)));
    if (!verifier) continue;
    if (
      blob.length !== 68 ||
      !ed25519Verify(verifier.publicKey, Buffer.from(text, 'utf8'), blob.subarray(4))
    ) {
      throw new FairpatchError('SIGNATURE_INVALID', `signature by ${name} does not verify`);
    }
    verifiedBy.push(name);
  }
  if (verifiedBy.length === 0)
    throw new FairpatchError('SIGNATURE_INVALID', 'note is not signed by any known key');
  return { text, verifiedBy };
}
