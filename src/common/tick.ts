/**
 * The tick clock. Ticks are numbered from the repository's fixed epoch: tick 1 starts at
 * the epoch, tick k at epoch + (k-1)·tick. Both are fixed when the repository is created, so the
 * timestamp version (= k) only ever grows, on every node.
 */
export interface TickConfig {
  epochMs: number;
  tickMs: number;
}

export function tickAt(cfg: TickConfig, nowMs: number): number {
  return Math.max(1, Math.floor((nowMs - cfg.epochMs) / cfg.tickMs) + 1);
}

export function tickStart(cfg: TickConfig, k: number): number {
  return cfg.epochMs + (k - 1) * cfg.tickMs;
}

/** The first tick whose start is at or after `atMs`: a release is never visible one tick early. */
export function activationTick(cfg: TickConfig, atMs: number): number {
  if (atMs <= cfg.epochMs) return 1;
  return Math.ceil((atMs - cfg.epochMs) / cfg.tickMs) + 1;
}
