/**
 * One error type for the whole project (sigstore's BaseError<Code> idea, Hono's HTTPException idea):
 * every refusal carries a machine-readable code, and the code alone decides the HTTP status, in
 * one place (src/http/errors.ts). Pure modules throw it too; the cause is kept.
 */
export const ERROR_STATUS = {
  // 400: the request or document is malformed
  BAD_REQUEST: 400,
  JSON_INVALID: 400,
  MANIFEST_INVALID: 400,
  METADATA_INVALID: 400,
  PATH_INVALID: 400,
  GROUP_INVALID: 400,
  QUERY_INVALID: 400,
  RECEIPT_INVALID: 400,
  // 401/403: who is asking
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  PRODUCT_OWNED: 403,
  // 404/405
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  // 409/422: well-formed but refused by the repository's rules
  VERSION_CONFLICT: 409,
  ALREADY_EXISTS: 409,
  /** A vendor version would take effect at the tick of one still pending, in its place (refresh, rotation). */
  RELEASE_PENDING: 409,
  /** A checkpoint of the same size as one already witnessed, with another root: a fork (C2SP tlog-witness). */
  CHECKPOINT_CONFLICT: 409,
  SIGNATURE_INVALID: 422,
  HASH_MISMATCH: 422,
  BLOB_MISSING: 422,
  TARGET_IMMUTABLE: 422,
  RELEASE_TOO_SOON: 422,
  RELEASE_TOO_LATE: 422,
  RELEASE_INVALID: 422,
  /** An advisory target whose file does not parse, or whose CSAF signature is not the vendor's over its document. */
  ADVISORY_INVALID: 422,
  PROOF_INVALID: 422,
  /** A member of a pending embargo staged, outside it, something that would go live before its tick. */
  EMBARGO_PENDING: 422,
  /** A request about an embargo its rules refuse (wrong release_at, moving staged members earlier, …). */
  EMBARGO_INVALID: 422,
  /** The embargo's tick is too close (or past) for the change to reach every node before it. */
  EMBARGO_CLOSED: 409,
  CHECKPOINT_INVALID: 422,
  NOTE_INVALID: 422,
  /** Evidence about a group the operator has not declared (once it has declared its groups). */
  GROUP_UNDECLARED: 422,
  // 408/413/415/416/429/431
  REQUEST_TIMEOUT: 408,
  RANGE_NOT_SATISFIABLE: 416,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  HEADERS_TOO_LARGE: 431,
  // 5xx: ours, never the caller's fault
  NOT_READY: 503,
  /** The database cannot be reached (or timed out): nothing was written; retry after Retry-After. */
  DATABASE_UNAVAILABLE: 503,
  /** Storage this node needs cannot be read or written (a path is named in the message). */
  STORAGE_UNAVAILABLE: 503,
  /** This node's clock is further from the database's than allowed: it does not decide what a tick shows. */
  CLOCK_SKEW: 503,
  /** This node lacks an online key the root in effect names: it refuses rather than sign with an old one. */
  KEY_UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class FairpatchError extends Error {
  override readonly name = 'FairpatchError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}
