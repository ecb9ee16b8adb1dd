import { ClientError } from './errors.js';

/**
 * Turns a failed fetch into one line a person can act on. Node's fetch reports every network
 * failure as "TypeError: fetch failed" and hides the reason (ECONNREFUSED, ENOTFOUND…) in `cause`;
 * the vendor CLI, the auditor and the agent all need the reason, so it is read here once.
 */
export class UnreachableError extends ClientError<'UNREACHABLE'> {
  override readonly name = 'UnreachableError';

  constructor(
    readonly target: string,
    readonly reason: string,
    hint: string,
    options: { cause?: unknown } = {},
  ) {
    super('UNREACHABLE', `cannot reach ${target}: ${reason}; ${hint}`, options);
  }
}

/** A system error code anywhere in the cause chain (undici nests it; happy-eyeballs aggregates it). */
function codeOf(error: unknown, depth = 0): string | undefined {
  if (!error || typeof error !== 'object' || depth > 4) return undefined;
  const e = error as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && e.code !== 'UND_ERR') return e.code;
  for (const inner of Array.isArray(e.errors) ? e.errors : []) {
    const code = codeOf(inner, depth + 1);
    if (code) return code;
  }
  return codeOf(e.cause, depth + 1);
}

const isTimeout = (error: unknown): boolean =>
  error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');

/** The reason and the hint for a fetch of `url` that threw `error`. */
export function explainFetchFailure(
  url: string | URL,
  error: unknown,
  timeoutMs?: number,
): UnreachableError {
  let target = String(url);
  let host = '';
  try {
    const parsed = new URL(url);
    target = parsed.origin;
    host = parsed.hostname;
  } catch {
    // not a URL: shown as given
  }
  const code = codeOf(error) ?? '';
  const [reason, hint] = ((): [string, string] => {
    if (
      isTimeout(error) ||
      code === 'ETIMEDOUT' ||
      code === 'UND_ERR_CONNECT_TIMEOUT' ||
      code === 'UND_ERR_HEADERS_TIMEOUT' ||
      code === 'UND_ERR_BODY_TIMEOUT'
    ) {
      return [
        timeoutMs ? `no answer within ${Math.round(timeoutMs / 1000)} s` : 'timed out',
        'is the server up and reachable from here?',
      ];
    }
    if (code === 'ECONNREFUSED') return ['connection refused', 'is the server running?'];
    if (code === 'ENOTFOUND') return [`unknown host ${host}`, 'check the server URL'];
    if (code === 'EAI_AGAIN')
      return [`cannot look up ${host} (DNS)`, 'check the network and the server URL'];
    if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH')
      return ['no route to the host', 'check the network'];
    if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE')
      return ['the connection was closed', 'try again; is it the right port?'];
    if (/CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code))
      return [`TLS certificate not accepted (${code})`, 'check the server URL and its certificate'];
    const message =
      error instanceof Error
        ? error.cause instanceof Error
          ? error.cause.message
          : error.message
        : String(error);
    return [code ? `${code} ${message}` : message, 'check the server URL'];
  })();
  return new UnreachableError(target, reason, hint, { cause: error });
}

/** fetch, with network failures explained; HTTP error statuses are the caller's to read. */
export async function reach(
  url: URL | string,
  init: RequestInit & { timeoutMs?: number } = {},
): Promise<Response> {
  const { timeoutMs, ...rest } = init;
  const attempt = () =>
    fetch(url, { ...rest, ...(timeoutMs ? { signal: AbortSignal.timeout(timeoutMs) } : {}) });
  try {
    return await attempt();
  } catch (error) {
    // A pooled keep-alive socket the server closed while this process was busy (an auditor hashing
    // a million leaves for longer than the server's keep-alive) fails the next request sent on it.
    // A request without a body is sent again, once, on a fresh connection.
    if (rest.body == null && isClosedConnection(error)) {
      try {
        return await attempt();
      } catch (again) {
        throw explainFetchFailure(url, again, timeoutMs);
      }
    }
    throw explainFetchFailure(url, error, timeoutMs);
  }
}

function isClosedConnection(error: unknown): boolean {
  const code = codeOf(error);
  return code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE';
}
