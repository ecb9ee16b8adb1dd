import { FairpatchError } from '../errors.js';

/**
 * The client side's failures (agent, auditor, fairpatch-tuf-client), one class per failure or
 * threat, as tuf-js names its errors after the threat and sigstore's BaseError<Code> keeps a code
 * and the cause. Callers decide by class or code, never by message text; src/cli/exit-codes.ts
 * turns the class into the exit status.
 */
export class ClientError<Code extends string = string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

/** The server answered with an error status; `status` is that answer's HTTP status. */
abstract class HttpStatusError<Code extends string> extends ClientError<Code> {
  constructor(
    code: Code,
    readonly status: number,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(code, message, options);
  }
}

/** 5xx, 429 or 408: the server failed or is overloaded; what it holds is unknown, not missing. */
export class ServerUnavailableError extends HttpStatusError<'SERVER_UNAVAILABLE'> {
  override readonly name = 'ServerUnavailableError';
  constructor(what: string, status: number, options: { cause?: unknown } = {}) {
    super(
      'SERVER_UNAVAILABLE',
      status,
      `${what}: the server failed or is unavailable (HTTP ${status})`,
      options,
    );
  }
}

/** 404 or 410: the server says it does not hold what was asked for. */
export class NotFoundError extends HttpStatusError<'NOT_FOUND'> {
  override readonly name = 'NotFoundError';
  constructor(what: string, status: number, options: { cause?: unknown } = {}) {
    super('NOT_FOUND', status, `${what}: not found (HTTP ${status})`, options);
  }
}

/** Any other answer than the one expected (a 4xx refusal, or an unexpected status). */
export class ServerRefusedError extends HttpStatusError<'SERVER_REFUSED'> {
  override readonly name = 'ServerRefusedError';
  constructor(what: string, status: number, options: { detail?: string; cause?: unknown } = {}) {
    const detail = options.detail?.replace(/\s+/g, ' ').slice(0, 200);
    super(
      'SERVER_REFUSED',
      status,
      `${what}: refused (HTTP ${status}${detail ? ` ${detail}` : ''})`,
      options,
    );
  }
}

/** An answer larger than anything the caller can use: refused unread (a hostile or broken server). */
export class AnswerTooLargeError extends ClientError<'ANSWER_TOO_LARGE'> {
  override readonly name = 'AnswerTooLargeError';
  constructor(maxBytes: number) {
    super('ANSWER_TOO_LARGE', `the answer is larger than ${maxBytes} bytes`);
  }
}

export type HttpFailure = ServerUnavailableError | NotFoundError | ServerRefusedError;

/**
 * The class an HTTP error status is reported as, for `what` (a URL or path): a 5xx is the server
 * failing, a 404 is something missing, and neither is the other.
 */
export function httpFailure(
  what: string,
  status: number,
  options: { detail?: string; cause?: unknown } = {},
): HttpFailure {
  if (status >= 500 || status === 429 || status === 408)
    return new ServerUnavailableError(what, status, options);
  if (status === 404 || status === 410) return new NotFoundError(what, status, options);
  return new ServerRefusedError(what, status, options);
}

/** Throws the coded failure for a response that is not `ok` (its body is left unread). */
export async function expectOk(response: Response, what: string): Promise<Response> {
  if (response.ok) return response;
  await response.body?.cancel();
  throw httpFailure(what, response.status);
}

/** A failure's code for a report line: its class's (client or FairpatchError), else INTERNAL. */
export function failureCode(error: unknown): string {
  return error instanceof ClientError || error instanceof FairpatchError ? error.code : 'INTERNAL';
}
