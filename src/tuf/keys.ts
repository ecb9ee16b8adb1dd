import { createHash } from 'node:crypto';
import nacl from 'tweetnacl';
import { ed25519Sign, ed25519Verify } from '../common/ed25519.js';
import { canonicalBytes } from '../common/canonical.js';

/** A TUF public key object (TUF spec 4.2, "KEY"). */
export interface TufKey {
  keytype: 'ed25519';
  scheme: 'ed25519';
  keyval: { public: string };
}

/** An Ed25519 key pair with its TUF keyid. `secretKey` is tweetnacl's 64-byte form (seed || public). */
export interface KeyPair {
  keyid: string;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export interface Signature {
  keyid: string;
  sig: string;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

export function tufKey(publicKey: Uint8Array): TufKey {
  return { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: hex(publicKey) } };
}

/** keyid = hex SHA-256 of the canonical JSON of the key object (TUF spec 4.2, "KEYID"). */
export function keyIdOf(key: TufKey): string {
  return createHash('sha256').update(canonicalBytes(key)).digest('hex');
}

export function keyPairFromSeed(seed: Uint8Array): KeyPair {
  const pair = nacl.sign.keyPair.fromSeed(seed);
  return {
    keyid: keyIdOf(tufKey(pair.publicKey)),
    publicKey: pair.publicKey,
    secretKey: pair.secretKey,
  };
}

export function generateKeyPair(): KeyPair {
  return keyPairFromSeed(nacl.randomBytes(32));
}

/** Ed25519 is deterministic (RFC 8032), which is what makes every node's bytes identical. */
export function sign(pair: KeyPair, message: Uint8Array): Signature {
  return { keyid: pair.keyid, sig: hex(ed25519Sign(pair.secretKey, message)) };
}

const HEX_64 = /^[0-9a-f]{64}$/;
const HEX_128 = /^[0-9a-f]{128}$/;

/** Verifies a hex signature with a hex public key; malformed input is simply "not verified". */
export function verify(publicKeyHex: string, message: Uint8Array, sigHex: string): boolean {
  if (!HEX_64.test(publicKeyHex) || !HEX_128.test(sigHex)) return false;
  return ed25519Verify(Buffer.from(publicKeyHex, 'hex'), message, Buffer.from(sigHex, 'hex'));
}
