import semver from 'semver';
import { UsageError } from './errors.js';

/** Option values that must have a shape: each refusal names the flag and shows a good value. */

export function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, not '${value}'`);
  return n;
}

/** "90s", "5m", "500ms", "1h", or plain seconds. */
export function parseDuration(text: string, flag = 'duration'): number {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new UsageError(`${flag} must be a duration such as 60s or 5m, not '${text}'`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * unit;
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
    const guess = /^[\w.-]+(:\d+)?(\/.*)?$/.test(text) ? `; did you mean http://${text}?` : ' (e.g. http://127.0.0.1:8080)';
    throw new UsageError(`${flag} ${text} is not an http(s) URL${guess}`);
  }
  return text;
}

/** A semantic version, as the agent compares versions with semver. */
export function semverText(text: string, flag: string): string {
  if (semver.valid(text)) return text;
  const coerced = semver.coerce(text);
  throw new UsageError(`${flag} ${text} is not a semantic version${coerced ? `; did you mean ${coerced.version}?` : ' (e.g. 2.3.1)'}`);
}
