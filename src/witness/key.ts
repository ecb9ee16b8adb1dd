import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { FairpatchError } from '../errors.js';
import { witnessOrigin } from '../common/witness.js';
import { parseVerifierKey, verifierKey } from '../log/note.js';
import { readPrivateKey, writePrivateKey } from '../keys/key-files.js';
import { generateKeyPair } from '../tuf/keys.js';

export interface WitnessKey {
  /** The witness's name; its log origin and note key name are `witness/<name>`. */
  name: string;
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

const vkeyPath = (keyPath: string): string => keyPath.replace(/\.key$/, '') + '.vkey';

/**
 * `fairpatch keygen --witness NAME`: NAME.key (the Ed25519 seed, mode 0600, never overwritten) and
 * NAME.vkey, the C2SP verifier key (https://c2sp.org/signed-note) agents and auditors pin.
 */
export function generateWitnessKey(
  keyPath: string,
  name: string,
): { key: string; vkey: string; verifierKey: string } {
  if (!NAME.test(name))
    throw new FairpatchError(
      'BAD_REQUEST',
      `witness name ${JSON.stringify(name)}: lower-case letters, digits, '.', '_' or '-'`,
    );
  const pair = generateKeyPair();
  writePrivateKey(keyPath, pair);
  const vkey = verifierKey(witnessOrigin(name), pair.publicKey);
  writeFileSync(vkeyPath(keyPath), vkey + '\n', { mode: 0o644 });
  return { key: keyPath, vkey: vkeyPath(keyPath), verifierKey: vkey };
}

/** Reads NAME.key and the NAME.vkey beside it (which names the witness), checking they belong together. */
export function readWitnessKey(keyPath: string): WitnessKey {
  const pair = readPrivateKey(keyPath);
  const path = vkeyPath(keyPath);
  if (!existsSync(path))
    throw new FairpatchError(
      'NOT_FOUND',
      `${path} does not exist (fairpatch keygen --witness NAME writes it beside NAME.key)`,
    );
  const verifier = parseVerifierKey(readFileSync(path, 'utf8'));
  if (!Buffer.from(verifier.publicKey).equals(Buffer.from(pair.publicKey)))
    throw new FairpatchError('BAD_REQUEST', `${path} does not match ${keyPath}`);
  if (!verifier.name.startsWith('witness/'))
    throw new FairpatchError(
      'BAD_REQUEST',
      `${path} is not a witness key (its name is ${verifier.name})`,
    );
  return {
    name: verifier.name.slice('witness/'.length),
    secretKey: pair.secretKey,
    publicKey: pair.publicKey,
  };
}
