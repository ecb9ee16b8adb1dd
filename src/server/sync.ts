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
  const refresher = setInterval(() => {
    repo
      .refresh()
      .then(options.onTick)
      .catch((error: unknown) => console.error('state refresh failed', error));
  }, options.refreshMs);
  refresher.unref();
  const roller = setInterval(() => {
    options.onRollup().catch((error: unknown) => console.error('delivery roll-up failed', error));
  }, options.rollupMs);
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
    clearInterval(refresher);
    clearInterval(roller);
    if (heartbeat) clearInterval(heartbeat);
    if (tickTimer) clearTimeout(tickTimer);
    if (timer) clearTimeout(timer);
  };
}
