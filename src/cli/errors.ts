/**
 * The CLI's own expected failures. Each carries a message that is already one plain line telling
 * the user what to do; src/cli/exit-codes.ts decides the exit status from the class alone.
 */

/** The command line itself is wrong: unknown command or flag, missing or malformed value. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A file the user named (manifest, root, key, config) does not exist or cannot be read. */
export class InputFileError extends Error {
  override readonly name = 'InputFileError';
}

/** The operation was attempted and failed for a reason the user can act on (e.g. a port in use). */
export class OperationFailed extends Error {
  override readonly name = 'OperationFailed';
}
