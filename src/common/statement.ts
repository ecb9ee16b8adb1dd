import { ed25519Sign, ed25519Verify } from './ed25519.js';
import { canonicalBytes } from './canonical.js';

/**
 * Signing and verifying one kind of signed statement (an agent's observation, an owner's enrollment
 * certificate, an install report): Ed25519 over canonical JSON after a context line that names the
 * kind, so a signature on one kind can never be passed off as another. `signer` says which key a
 * statement names as its signer.
 */
export function statementKind<T>(context: string, signer: (statement: T) => string) {
  const prefix = Buffer.from(`${context}\n`, 'utf8');
  const message = (statement: T): Buffer => Buffer.concat([prefix, canonicalBytes(statement)]);
  return {
    /** The context line: what precedes the canonical text in every signed message of this kind. */
    prefix,
    sign: (statement: T, seed: Uint8Array): string =>
      ed25519Sign(seed, message(statement)).toString('hex'),
    verify: (statement: T, sig: string): boolean =>
      ed25519Verify(
        Buffer.from(signer(statement), 'hex'),
        message(statement),
        Buffer.from(sig, 'hex'),
      ),
  };
}
