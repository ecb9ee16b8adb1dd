import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { FairpatchError } from '../errors.js';
import { parseJson } from '../common/canonical.js';
import { type KeyPair, type TufKey, keyPairFromSeed, tufKey } from '../tuf/keys.js';
import { parseWith, tufKeySchema } from '../tuf/schema.js';

// Key files: `<name>.key` holds the private seed (mode 0600, git-ignored), `<name>.pub` the TUF
// public key object. Reading validates that the stored public key matches the seed.

const privateKeySchema = z.strictObject({
  keytype: z.literal('ed25519'),
  scheme: z.literal('ed25519'),
  keyid: z.string(),
  keyval: z.strictObject({
    public: z.string().regex(/^[0-9a-f]{64}$/),
    private: z.string().regex(/^[0-9a-f]{64}$/),
  }),
});

export function writePrivateKey(path: string, pair: KeyPair): void {
  const body = {
    keytype: 'ed25519',
    scheme: 'ed25519',
    keyid: pair.keyid,
    keyval: {
      public: Buffer.from(pair.publicKey).toString('hex'),
      private: Buffer.from(pair.secretKey.subarray(0, 32)).toString('hex'),
    },
  };
  // 'wx': never overwrite a key silently; mode applies on creation, chmod covers a restrictive umask race.
  writeFileSync(path, JSON.stringify(body, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
}

export function writePublicKey(path: string, pair: KeyPair): void {
  writeFileSync(path, JSON.stringify(tufKey(pair.publicKey), null, 2) + '\n', { mode: 0o644 });
}

export function readPrivateKey(path: string): KeyPair {
  if (!existsSync(path)) throw new FairpatchError('NOT_FOUND', `key file ${path} does not exist`);
  const parsed = parseWith(
    privateKeySchema,
    parseJson(readFileSync(path), 'JSON_INVALID'),
    'BAD_REQUEST',
  );
  const pair = keyPairFromSeed(Buffer.from(parsed.keyval.private, 'hex'));
  if (Buffer.from(pair.publicKey).toString('hex') !== parsed.keyval.public) {
    throw new FairpatchError(
      'BAD_REQUEST',
      `key file ${path}: public key does not match the private seed`,
    );
  }
  return pair;
}

export function readPublicKey(path: string): TufKey {
  if (!existsSync(path)) throw new FairpatchError('NOT_FOUND', `key file ${path} does not exist`);
  return parseWith(tufKeySchema, parseJson(readFileSync(path), 'JSON_INVALID'), 'BAD_REQUEST');
}

/** Writes both halves of a key pair as `<dir>/<name>.key` and `<dir>/<name>.pub`. */
export function writeKeyPair(dir: string, name: string, pair: KeyPair): void {
  mkdirSync(dir, { recursive: true });
  writePrivateKey(join(dir, `${name}.key`), pair);
  writePublicKey(join(dir, `${name}.pub`), pair);
}

/** Every private root key in the directory (`root-*.key`), indexed by keyid. */
export function readRootKeys(dir: string): Map<string, KeyPair> {
  const keys = new Map<string, KeyPair>();
  if (!existsSync(dir)) return keys;
  for (const file of readdirSync(dir)
    .filter((f) => /^root-[0-9a-f]+\.key$/.test(f))
    .sort()) {
    const pair = readPrivateKey(join(dir, file));
    keys.set(pair.keyid, pair);
  }
  return keys;
}

/** Root metadata files `<N>.root.json` in the directory, in version order. */
export function listRootFiles(dir: string): Array<{ version: number; path: string }> {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((f) => /^([1-9]\d{0,8})\.root\.json$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ version: Number(m[1]), path: join(dir, m[0]) }))
    .sort((a, b) => a.version - b.version);
}
