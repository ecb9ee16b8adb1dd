import { FairpatchError } from '../errors.js';
import { AgentKeyError } from '../agent/errors.js';
import { ClientError, ServerUnavailableError } from '../net/errors.js';
import { UnreachableError } from '../net/unreachable.js';
import { InputFileError, OperationFailed, UsageError } from './errors.js';

/**
 * Every exit status the CLI uses, and the one function that maps a failure to one. Scripts branch
 * on these, so they are few and borrowed from sysexits.h where one fits: a wrong command line is
 * 64 for every command (audit included), never confused with "refused" (1) or, for audit, with
 * UNFAIR (1) and "cannot verify" (2).
 */
export const EXIT = {
  OK: 0,
  /** The operation ran and failed or was refused (a 4xx from the server, a bad signature, an agent refusal). */
  FAILED: 1,
  /** audit only: the log or receipts could not be verified (unreachable server, missing root…). */
  CANNOT_VERIFY: 2,
  /** EX_USAGE: unknown command or flag, missing or malformed option. */
  USAGE: 64,
  /** EX_NOINPUT: a file named on the command line (or the agent's own key) is missing, unreadable or corrupt. */
  NO_INPUT: 66,
  /** EX_UNAVAILABLE: the server could not be reached, or answered 5xx. */
  UNAVAILABLE: 69,
  /** EX_SOFTWARE: an unexpected error, a bug in fairpatch; the only case that prints a stack. */
  BUG: 70,
  /** EX_TEMPFAIL, agent only: it switched to a new executable of itself; start it again (systemd does). */
  RESTART: 75,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The README's and the help's table, generated from the same constants. */
export const EXIT_TABLE: ReadonlyArray<[ExitCode, string]> = [
  [EXIT.OK, 'success (audit: FAIR)'],
  [EXIT.FAILED, 'the operation failed or was refused (audit: UNFAIR)'],
  [EXIT.CANNOT_VERIFY, 'audit only: cannot verify'],
  [EXIT.USAGE, 'usage error: unknown command or flag, missing or malformed option'],
  [EXIT.NO_INPUT, 'a file named on the command line is missing or unreadable'],
  [EXIT.UNAVAILABLE, 'the server is unreachable or answered 5xx'],
  [
    EXIT.BUG,
    'unexpected error: a bug in fairpatch (the only case with a stack trace; audit says 2)',
  ],
  [EXIT.RESTART, 'agent --self-update only: it updated itself; start it again (its unit does)'],
];

const systemCode = (error: unknown): string | undefined =>
  (error as { code?: unknown } | null)?.code as string | undefined;
const FILE_CODES = new Set(['ENOENT', 'EACCES', 'EISDIR', 'ENOTDIR', 'EPERM']);

/** True for every failure the CLI expects; anything else is a bug and gets a stack trace. */
export function isExpected(error: unknown): boolean {
  return exitCodeFor(error, undefined) !== EXIT.BUG;
}

/** The one mapping from a failure to an exit status. `command` is the top-level command name. */
export function exitCodeFor(error: unknown, command: string | undefined): ExitCode {
  if (error instanceof UsageError) return EXIT.USAGE;
  const code = ((): ExitCode => {
    if (error instanceof InputFileError || error instanceof AgentKeyError) return EXIT.NO_INPUT;
    if (error instanceof UnreachableError || error instanceof ServerUnavailableError)
      return EXIT.UNAVAILABLE;
    if (error instanceof FairpatchError)
      return error.status >= 500 ? EXIT.UNAVAILABLE : EXIT.FAILED;
    // Every other coded failure of the client side: a refusal (an attack, a 404, a 4xx).
    if (error instanceof OperationFailed || error instanceof ClientError) return EXIT.FAILED;
    if (error instanceof Error && FILE_CODES.has(systemCode(error) ?? '')) return EXIT.NO_INPUT;
    return EXIT.BUG;
  })();
  // An auditor's script must read anything short of a verdict as "cannot verify", never as UNFAIR;
  // audit keeps to its four documented codes even for a bug (which still prints its stack).
  if (command === 'audit') return EXIT.CANNOT_VERIFY;
  return code;
}
