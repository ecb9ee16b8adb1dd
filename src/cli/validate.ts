import semver from 'semver';
import { durationMs } from '../common/duration.js';
import { UsageError } from './errors.js';

/** Option values that must have a shape: each refusal names the flag and shows a good value. */

export function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`${flag} must be a positive integer, not '${value}'`);
  return n;
}

/** "500ms", "90s", "5m", "1h", "90d", or plain seconds (the grammar of src/common/duration.ts). */
export function parseDuration(text: string, flag = 'duration'): number {
  const ms = durationMs(text);
  if (ms === undefined)
    throw new UsageError(`${flag} must be a duration such as 60s, 5m or 90d, not '${text}'`);
  return ms;
}

/** An http(s) URL; "localhost:8080" (no scheme) is the usual slip, so the fix is spelled out. */
export function serverUrl(text: string, flag = '--server'): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    const guess = /^[\w.-]+(:\d+)?(\/.*)?$/.test(text)
      ? `; did you mean http://${text}?`
      : ' (e.g. http://127.0.0.1:8080)';
    throw new UsageError(`${flag} ${text} is not an http(s) URL${guess}`);
  }
  return text;
}

/** A semantic version, as the agent compares versions with semver. */
export function semverText(text: string, flag: string): string {
  if (semver.valid(text)) return text;
  const coerced = semver.coerce(text);
  throw new UsageError(
    `${flag} ${text} is not a semantic version${coerced ? `; did you mean ${coerced.version}?` : ' (e.g. 2.3.1)'}`,
  );
}
