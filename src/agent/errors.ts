import { ClientError } from '../net/errors.js';

// The agent's refusals, one class per threat it stops (TUF spec section 1.5's attack list), each
// keeping the tuf-js error it was decided from as its cause (src/agent/threats.ts decides which).

/** Arbitrary software attack: an artifact or metadata file whose hash or length is not the signed one. */
export class TamperedError extends ClientError<'TAMPERED'> {
  override readonly name = 'TamperedError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('TAMPERED', message, options);
  }
}

/** Endless data attack: a download longer than its signed (or maximum) length. */
export class EndlessDataError extends ClientError<'ENDLESS_DATA'> {
  override readonly name = 'EndlessDataError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('ENDLESS_DATA', message, options);
  }
}

/** Freeze attack: metadata past its expiry, offered as current. */
export class FreezeAttackError extends ClientError<'FREEZE'> {
  override readonly name = 'FreezeAttackError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('FREEZE', message, options);
  }
}

/** Rollback attack: metadata older than what the agent already trusts. */
export class RollbackAttackError extends ClientError<'ROLLBACK'> {
  override readonly name = 'RollbackAttackError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('ROLLBACK', message, options);
  }
}

/** Metadata not signed by the threshold of keys trusted for its role. */
export class BadSignatureError extends ClientError<'BAD_SIGNATURE'> {
  override readonly name = 'BadSignatureError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('BAD_SIGNATURE', message, options);
  }
}

/** Metadata the TUF engine refused for another reason (malformed, wrong type, missing role). */
export class MetadataRefusedError extends ClientError<'METADATA_REFUSED'> {
  override readonly name = 'MetadataRefusedError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('METADATA_REFUSED', message, options);
  }
}

/** A target the signed metadata does not list (any more). */
export class UnknownTargetError extends ClientError<'TARGET_UNKNOWN'> {
  override readonly name = 'UnknownTargetError';
  constructor(path: string) {
    super('TARGET_UNKNOWN', `signed metadata does not list ${path}`);
  }
}

/**
 * The agent's `agent.key` is not a key pair it can use (corrupt, truncated, edited): refused rather
 * than replaced, since the public key is the agent's identity. A file problem (EX_NOINPUT), not a bug.
 */
export class AgentKeyError extends ClientError<'AGENT_KEY_INVALID'> {
  override readonly name = 'AgentKeyError';
  constructor(
    readonly file: string,
    problem: string,
    options: { cause?: unknown } = {},
  ) {
    super(
      'AGENT_KEY_INVALID',
      `${file} ${problem}; restore it from a backup, or move it away to start as a new agent`,
      options,
    );
  }
}

export type Refusal =
  | TamperedError
  | EndlessDataError
  | FreezeAttackError
  | RollbackAttackError
  | BadSignatureError
  | MetadataRefusedError
  | UnknownTargetError;
