/**
 * Turns a refusal into one line naming the threat (TUF spec section 1.5's attack list), for the
 * agent's log. tuf-js wraps some errors in RuntimeError, so the message is read as well as the class.
 */
export function describeRefusal(error: unknown): string {
  const name = error instanceof Error ? error.constructor.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  const text = `${name}: ${message}`;
  const rules: Array<[RegExp, string]> = [
    [/LengthOrHashMismatch|hash|length mismatch/i, 'tampered artifact (arbitrary software attack): hash or length does not match the signed metadata'],
    [/DownloadLengthMismatch|endless data|Max length reached/i, 'endless data attack: the download exceeds the signed length'],
    [/ExpiredMetadata|is expired/i, 'freeze attack: the server offered expired metadata'],
    [/less than current version|does not match snapshot version|doesn't match timestamp|Expected version/i, 'rollback attack: the server offered older metadata than already trusted'],
    [/signed by|UnsignedMetadata|signature/i, 'bad signature: metadata not signed by the keys that are trusted for it'],
    [/unreachable|ECONNREFUSED|fetch failed|aborted|timeout/i, 'server unreachable'],
    [/HTTP 4\d\d|HTTP 5\d\d|DownloadHTTPError/i, 'server error'],
  ];
  const threat = rules.find(([pattern]) => pattern.test(text))?.[1] ?? 'refused';
  return `${threat} (${message.replace(/\s+/g, ' ').slice(0, 200)})`;
}
