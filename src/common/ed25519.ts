import {
  type KeyObject,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
} from 'node:crypto';

// Ed25519 on node:crypto (OpenSSL): the same signatures as tweetnacl (RFC 8032 is deterministic),
// about a hundred times faster to verify, which is what receipt intake and audits spend their time on.
// Raw 32-byte keys are wrapped in their fixed DER prefixes (RFC 8410) to become KeyObjects.

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

// Verifiers see the same few keys again and again (a repository's roles, a fleet's agents): parsing
// one is dearer than checking a signature, so parsed keys are kept, up to a bound.
const publicKeys = new Map<string, KeyObject>();
const MAX_CACHED = 10_000;

function publicKeyObject(raw: Uint8Array): KeyObject {
  const id = Buffer.from(raw).toString('hex');
  let key = publicKeys.get(id);
  if (!key) {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
    if (publicKeys.size >= MAX_CACHED) publicKeys.delete(publicKeys.keys().next().value as string);
    publicKeys.set(id, key);
  }
  return key;
}

/** True when `signature` is a valid Ed25519 signature of `message` by the 32-byte public key. */
export function ed25519Verify(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return cryptoVerify(null, message, publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
}

/** Signs with a 32-byte seed (the first half of tweetnacl's 64-byte secret key is the seed). */
export function ed25519Sign(seed: Uint8Array, message: Uint8Array): Buffer {
  const key = createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, seed.subarray(0, 32)]),
    format: 'der',
    type: 'pkcs8',
  });
  return cryptoSign(null, message, key);
}

/** The public key of a 32-byte seed. */
export function ed25519PublicKey(seed: Uint8Array): Buffer {
  const key = createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, seed.subarray(0, 32)]),
    format: 'der',
    type: 'pkcs8',
  });
  return createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
}
