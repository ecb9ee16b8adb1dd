import type { Repository } from '../release/repository.js';
import { tickStart } from '../common/tick.js';

/**
 * Keeps a serving node current: reloads committed state every `refreshMs` (the lead time, 30 s by
 * default, is what guarantees every node holds a release before its tick) and renders each tick's
 * timestamp half a tick ahead, so a poll never signs.
 */
export function startSync(
  repo: Repository,
  options: {
    refreshMs: number;
    rollupMs: number;
    onTick: () => Promise<void>;
    onRollup: () => Promise<unknown>;
    /** Called as close as timers allow to the start of each tick (the push fan-out). */
    onTickStart?: (k: number) => void;
    heartbeatMs?: number;
    onHeartbeat?: () => void;
  },
): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let tickTimer: NodeJS.Timeout | undefined;
  const atTickStart = (): void => {
    if (stopped) return;
    const k = repo.currentTick();
    try {
      options.onTickStart?.(k);
    } catch (error) {
      console.error('tick-start announcement failed', error);
    }
    tickTimer = setTimeout(atTickStart, Math.max(1, tickStart(repo.config, k + 1) - repo.clock.now()));
    tickTimer.unref();
  };
  if (options.onTickStart) atTickStart();
  const heartbeat = options.onHeartbeat ? setInterval(options.onHeartbeat, options.heartbeatMs ?? 15_000) : undefined;
  heartbeat?.unref();
  // Database work (the refresh, the activation leaves, roll-ups) runs a quarter into a tick, never
  // across a boundary: with SQLite every query blocks the event loop, and a write can wait for
  // another node's lock, so a refresh that happened to fall on a tick's start held that tick's first
  // polls back by tens of ms (measured with the switch benchmark's per-node bracket).
  const quarter = (): number => {
    const now = repo.clock.now();
    const next = tickStart(repo.config, repo.currentTick() + 1) + repo.config.tickMs / 4;
    return Math.max(1, next - now);
  };
  let refresher: NodeJS.Timeout | undefined;
  let lastRefresh = 0;
  const refresh = (): void => {
    if (stopped) return;
    // Every refreshMs, at the quarter of the tick it falls in.
    if (repo.clock.now() - lastRefresh >= options.refreshMs - repo.config.tickMs / 2) {
      lastRefresh = repo.clock.now();
      repo
        .refresh()
        .then(options.onTick)
        .catch((error: unknown) => console.error('state refresh failed', error));
    }
    refresher = setTimeout(refresh, quarter());
    refresher.unref();
  };
  refresher = setTimeout(refresh, quarter());
  refresher.unref();
  let roller: NodeJS.Timeout | undefined;
  const rollup = (): void => {
    if (stopped) return;
    options.onRollup().catch((error: unknown) => console.error('delivery roll-up failed', error));
    roller = setTimeout(rollup, Math.max(0, options.rollupMs - repo.config.tickMs) + quarter());
    roller.unref();
  };
  roller = setTimeout(rollup, Math.max(0, options.rollupMs - repo.config.tickMs) + quarter());
  roller.unref();

  const prerender = (): void => {
    if (stopped) return;
    const k = repo.currentTick();
    try {
      repo.view.timestampAt(k);
      repo.view.timestampAt(k + 1);
    } catch (error) {
      console.error('pre-render failed', error);
    }
    const half = repo.config.tickMs / 2;
    const wait = Math.max(10, tickStart(repo.config, k + 1) - half - repo.clock.now());
    timer = setTimeout(prerender, wait);
    timer.unref();
  };
  prerender();
  return () => {
    stopped = true;
    if (refresher) clearTimeout(refresher);
    if (roller) clearTimeout(roller);
    if (heartbeat) clearInterval(heartbeat);
    if (tickTimer) clearTimeout(tickTimer);
    if (timer) clearTimeout(timer);
  };
}
