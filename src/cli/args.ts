import { parseArgs, type ParseArgsConfig } from 'node:util';
import { FairpatchError } from '../errors.js';

/** parseArgs with our error type: an unknown flag is a usage error, not a stack trace. */
export function args<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (cause) {
    throw new FairpatchError('BAD_REQUEST', (cause as Error).message);
  }
}

export function required(value: string | undefined, flag: string): string {
  if (!value) throw new FairpatchError('BAD_REQUEST', `${flag} is required`);
  return value;
}

export function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new FairpatchError('BAD_REQUEST', `${flag} must be a positive integer`);
  return n;
}

export { parseDuration } from '../common/duration.js';
