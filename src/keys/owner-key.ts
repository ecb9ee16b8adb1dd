import { writeFileSync } from 'node:fs';
import { generateKeyPair, type KeyPair } from '../tuf/keys.js';
import { readPrivateKey, writePrivateKey } from './key-files.js';
import { type SignedEnrollment, signEnrollment } from '../common/enrollment.js';

// A group owner's key (a tenant, a regional CERT, an independent monitor): it certifies the agent keys
// whose testimony the owner answers for (src/common/enrollment.ts). NAME.key holds the seed (mode
// 0600, never overwritten) and never leaves the owner; NAME.pub holds the public key in hex, which is
// what the operator declares (`groups declare --owners`) and auditors pin (`audit --owners`).

export function generateOwnerKey(keyPath: string): { key: string; pub: string; publicKey: string } {
  const pair = generateKeyPair();
  writePrivateKey(keyPath, pair);
  const publicKey = Buffer.from(pair.publicKey).toString('hex');
  const pub = keyPath.replace(/\.key$/, '') + '.pub';
  writeFileSync(pub, `${publicKey}\n`, { mode: 0o644 });
  return { key: keyPath, pub, publicKey };
}

export function readOwnerKey(keyPath: string): KeyPair {
  return readPrivateKey(keyPath);
}

/**
 * The owner's certificate for one agent key of `group`, valid from `from` to `to` (ms): what `fairpatch
 * owner enroll` writes and the demo's owners hand their agents.
 */
export function certifyAgent(
  owner: KeyPair,
  certificate: { group: string; agent: string; from: number; to: number },
): SignedEnrollment {
  return signEnrollment(
    {
      v: 1,
      group: certificate.group,
      agent: certificate.agent,
      owner: Buffer.from(owner.publicKey).toString('hex'),
      issued_at: new Date(certificate.from).toISOString(),
      expires_at: new Date(certificate.to).toISOString(),
    },
    owner.secretKey.subarray(0, 32),
  );
}
