// One duration grammar for flags ("--interval 60s"), manifests ("release_at": "+10m") and settings:
// a whole number and a unit; a bare number is seconds.

export const DURATION_UNITS_MS = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
} as const;
type Unit = keyof typeof DURATION_UNITS_MS;

const DURATION = /^(\d{1,12})(ms|s|m|h|d)?$/;

/** Milliseconds in "500ms", "90s", "5m", "1h", "90d" or "90" (seconds); undefined if it is none of those. */
export function durationMs(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  return match ? Number(match[1]) * DURATION_UNITS_MS[(match[2] ?? 's') as Unit] : undefined;
}
