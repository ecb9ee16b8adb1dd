/** How long `until` keeps asking: a bound, never a speed requirement. */
export interface UntilBounds {
  /** Gives up once this much wall time has passed (default 30 s). */
  timeoutMs?: number;
  /** Gives up after this many answers (default: no limit but the time). */
  attempts?: number;
  /** Pause between answers (default 50 ms). */
  everyMs?: number;
}

/** What a probe answers while the condition does not hold yet. */
type NotYet = undefined | false;

/**
 * Asks `probe` until it gives a value (anything but `undefined` or `false`) and returns that value.
 * Tests wait for conditions (a process up, a message received), not for fixed times. A probe that
 * throws counts as "not yet" (a server still starting refuses connections); the last error is in the
 * message when the bound runs out, with `what` was awaited.
 */
export async function until<T>(
  what: string,
  probe: () => T | NotYet | Promise<T | NotYet>,
  { timeoutMs = 30_000, attempts = Infinity, everyMs = 50 }: UntilBounds = {},
): Promise<Exclude<T, NotYet>> {
  const start = Date.now();
  let last: unknown;
  for (let attempt = 1; ; attempt++) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as Exclude<T, NotYet>;
    } catch (error) {
      last = error;
    }
    const elapsed = Date.now() - start;
    if (attempt >= attempts || elapsed >= timeoutMs)
      throw new Error(
        `timed out waiting for ${what} (${attempt} attempts, ${elapsed} ms)` +
          (last === undefined ? '' : `: ${last instanceof Error ? last.message : String(last)}`),
      );
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
