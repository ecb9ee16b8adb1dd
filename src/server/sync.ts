import type { DatabaseMonitor } from '../db/monitor.js';
import { FairpatchError } from '../errors.js';

/** A missing key is logged once, when it is found missing (root-keys.ts), not at every tick. */
const announced = (error: unknown): boolean =>
  error instanceof FairpatchError && error.code === 'KEY_UNAVAILABLE';
import type { Repository } from '../release/repository.js';
import { tickAt, tickStart } from '../common/tick.js';

/**
 * Keeps a serving node current: reloads committed state every `refreshMs` (the lead time, 30 s by
 * default, is what guarantees every node holds a release before its tick) and renders each tick's
 * timestamp half a tick ahead, so a poll never signs. Nothing here ends the process: a database that
 * goes away is retried until it is back.
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
    heartbeatMs: number;
    onHeartbeat?: () => void;
    /** Told whether each refresh reached the database; outages are logged there, once. */
    monitor?: DatabaseMonitor;
    /** Longest wait between refresh attempts while the database is away (default 4 s). */
    maxBackoffMs?: number;
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
      if (!announced(error)) console.error('tick-start announcement failed', error);
    }
    tickTimer = setTimeout(
      atTickStart,
      Math.max(1, tickStart(repo.config, k + 1) - repo.clock.now()),
    );
    tickTimer.unref();
  };
  if (options.onTickStart) atTickStart();
  const heartbeat = options.onHeartbeat
    ? setInterval(options.onHeartbeat, options.heartbeatMs)
    : undefined;
  heartbeat?.unref();
  // An outage is logged by the monitor, once; anything else is a bug and is logged in full.
  const report = (what: string) => (error: unknown) => {
    if (!options.monitor?.failed(error) && !announced(error)) console.error(what, error);
  };
  // One refresh at a time, never piling up behind a slow database; while it is away, attempts back
  // off (with jitter, so nodes do not retry in step) and the node serves the state it holds.
  let failures = 0;
  let refreshTimer: NodeJS.Timeout | undefined;
  // Database work lands a quarter into a tick, never on a tick's start: with SQLite every query blocks
  // the event loop, and a write can wait for another node's lock, so a refresh falling on a tick's
  // start held that tick's first polls back by tens of ms (the switch benchmark's per-node bracket).
  const atQuarter = (delay: number): number => {
    const at = repo.clock.now() + delay;
    const quarter = tickStart(repo.config, tickAt(repo.config, at)) + repo.config.tickMs / 4;
    // The latest quarter point not after `at`: never later than asked, or the state would age past
    // what the node may serve between two refreshes.
    return Math.max(1, (quarter <= at ? quarter : quarter - repo.config.tickMs) - repo.clock.now());
  };
  const refresh = async (): Promise<void> => {
    try {
      await repo.refresh();
      options.monitor?.succeeded();
      failures = 0;
      await options.onTick().catch(report('logging activations failed'));
    } catch (error) {
      failures++;
      report('state refresh failed')(error);
    }
    if (stopped) return;
    const backoff =
      Math.min(options.maxBackoffMs ?? 4000, options.refreshMs * 2 ** (failures - 1)) *
      (0.75 + Math.random() / 2);
    refreshTimer = setTimeout(
      () => void refresh(),
      failures === 0 ? atQuarter(options.refreshMs) : backoff,
    );
    refreshTimer.unref();
  };
  refreshTimer = setTimeout(() => void refresh(), atQuarter(options.refreshMs));
  refreshTimer.unref();
  // Roll-ups write to the database too: at a quarter point, like the refresh, never on a boundary.
  let roller: NodeJS.Timeout | undefined;
  const rollDelay = (): number =>
    options.rollupMs >= repo.config.tickMs ? atQuarter(options.rollupMs) : options.rollupMs;
  const rollup = (): void => {
    if (stopped) return;
    options.onRollup().catch(report('delivery roll-up failed'));
    roller = setTimeout(rollup, rollDelay());
    roller.unref();
  };
  roller = setTimeout(rollup, rollDelay());
  roller.unref();

  const prerender = (): void => {
    if (stopped) return;
    const k = repo.currentTick();
    try {
      repo.view.timestampAt(k);
      repo.view.timestampAt(k + 1);
    } catch (error) {
      if (!announced(error)) console.error('pre-render failed', error);
    }
    const half = repo.config.tickMs / 2;
    const wait = Math.max(10, tickStart(repo.config, k + 1) - half - repo.clock.now());
    timer = setTimeout(prerender, wait);
    timer.unref();
  };
  prerender();
  return () => {
    stopped = true;
    if (refreshTimer) clearTimeout(refreshTimer);
    if (roller) clearTimeout(roller);
    if (heartbeat) clearInterval(heartbeat);
    if (tickTimer) clearTimeout(tickTimer);
    if (timer) clearTimeout(timer);
  };
}
