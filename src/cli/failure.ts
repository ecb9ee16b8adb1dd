import { type ErrorCode, FairpatchError } from '../errors.js';
import { ClientError } from '../net/errors.js';
import { UnreachableError } from '../net/unreachable.js';
import { UsageError } from './errors.js';
import { isExpected } from './exit-codes.js';

/** What to do about a refusal, where the code alone says it. */
const HINTS: Partial<Record<ErrorCode, string>> = {
  UNAUTHORIZED: 'check --token (or FAIRPATCH_TOKEN)',
  FORBIDDEN: "use this vendor's own token, or the operator token for operator commands",
  SIGNATURE_INVALID: "check that --key is this vendor's current key",
  RELEASE_TOO_SOON: 'set release_at further ahead',
  RATE_LIMITED: 'wait a moment and try again',
  NOT_READY: 'the node is catching up; try again shortly',
};

const FILE_REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
};

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, ' ').trim();

/**
 * What the CLI prints for a failure: one plain line for everything expected; a stack trace only for
 * a bug, and then it says so.
 */
export function failureText(error: unknown, path: string, program = 'fairpatch'): string {
  const prefix = `${program}${path ? ` ${path}` : ''}: `;
  if (!isExpected(error)) {
    const trace = error instanceof Error ? (error.stack ?? error.message) : String(error);
    return `${prefix}unexpected error; this is a bug in fairpatch, please report it with the trace below\n${trace}`;
  }
  const e = error as Error & { code?: string; path?: string };
  if (error instanceof UsageError)
    return `${prefix}${oneLine(e.message)} (see ${program} ${path ? `${path} ` : ''}--help)`;
  if (error instanceof FairpatchError) {
    const hint = HINTS[error.code];
    return `${prefix}${oneLine(error.message)}${hint ? `; ${hint}` : ''} [${error.code}]`;
  }
  // A client-side refusal says its code, as a server's does (an unreachable server already says why).
  if (error instanceof ClientError && !(error instanceof UnreachableError))
    return `${prefix}${oneLine(error.message)} [${error.code}]`;
  if (e.code && FILE_REASONS[e.code] && e.path)
    return `${prefix}cannot read ${e.path}: ${FILE_REASONS[e.code]}`;
  return `${prefix}${oneLine(e.message)}`;
}
