import {
  type KeyObject,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
} from 'node:crypto';
import { BoundedCache } from './bounded-cache.js';

// Ed25519 on node:crypto (OpenSSL): the same signatures as tweetnacl (RFC 8032 is deterministic),
// about a hundred times faster to verify, which is what receipt intake and audits spend their time on.
// Raw 32-byte keys are wrapped in their fixed DER prefixes (RFC 8410) to become KeyObjects.

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

// Verifiers see the same few keys again and again (a repository's roles, a fleet's agents): parsing
// one is dearer than checking a signature, so parsed keys are kept, up to a bound.
const publicKeys = new BoundedCache<string, KeyObject>(20_000);

function publicKeyObject(raw: Uint8Array): KeyObject {
  const id = Buffer.from(raw).toString('hex');
  let key = publicKeys.get(id);
  if (!key) {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
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

/** One signature to check: `signature` over `message` by the 32-byte `publicKey`. */
export interface Ed25519Check {
  publicKey: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
}

/** Below this many, a batch is checked inline: handing work to the thread pool costs more than it saves. */
const INLINE_BATCH = 8;

/**
 * Checks many signatures at once, each exactly as `ed25519Verify` would: node:crypto's callback form
 * runs each check on libuv's thread pool, so a batch of agent receipts uses every core while the
 * event loop goes on. Resolves with one verdict per check, in order.
 */
export function ed25519VerifyBatch(checks: readonly Ed25519Check[]): Promise<boolean[]> {
  if (checks.length < INLINE_BATCH)
    return Promise.resolve(checks.map((c) => ed25519Verify(c.publicKey, c.message, c.signature)));
  return Promise.all(
    checks.map(
      ({ publicKey, message, signature }) =>
        new Promise<boolean>((resolve) => {
          if (publicKey.length !== 32 || signature.length !== 64) return resolve(false);
          try {
            cryptoVerify(null, message, publicKeyObject(publicKey), signature, (error, ok) =>
              resolve(!error && ok),
            );
          } catch {
            resolve(false);
          }
        }),
    ),
  );
}

/** Signs with a 32-byte seed (the first half of tweetnacl's 64-byte secret key is the seed). */
export function ed25519Sign(seed: Uint8Array, message: Uint8Array): Buffer {
  return cryptoSign(null, message, privateKeyObject(seed.subarray(0, 32)));
}

// A signer signs run after run with its one key: parsing it costs more than signing, so the last
// key used is kept (only the one the caller holds anyway).
let lastPrivate: { seed: Buffer; key: KeyObject } | undefined;

function privateKeyObject(seed: Uint8Array): KeyObject {
  if (lastPrivate?.seed.equals(seed)) return lastPrivate.key;
  const key = createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  lastPrivate = { seed: Buffer.from(seed), key };
  return key;
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
