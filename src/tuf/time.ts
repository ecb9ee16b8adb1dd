/** TUF `expires`: ISO 8601 UTC without milliseconds (python-tuf and go-tuf reject fractions). */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

const ISO_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** Parses an `expires`-style timestamp; undefined when it is not exactly that shape. */
export function parseIsoSeconds(value: string): number | undefined {
  if (!ISO_SECONDS.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

export const DAY_MS = 86_400_000;
