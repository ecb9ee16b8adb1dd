/** The redacted form of a secret setting's value, as --print-config shows it. */
export const REDACTED = '[redacted]';

/**
 * A database URL as it may be shown: its password, and any query parameter naming a password, read
 * `redacted`. Text that is no URL (a SQLite file) is shown as is.
 */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text;
  }
  if (url.password) url.password = 'redacted';
  // A copy: setting a parameter rewrites the list being iterated.
  // oxlint-disable-next-line unicorn/no-useless-spread
  for (const key of [...url.searchParams.keys()])
    if (/pass/i.test(key)) url.searchParams.set(key, 'redacted');
  return url.toString();
}
