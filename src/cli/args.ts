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

/** "90s", "5m", "500ms", "1h", "90d", or plain seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new FairpatchError('BAD_REQUEST', `${text} is not a duration (e.g. 60s, 5m)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}
