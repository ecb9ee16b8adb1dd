import { drainRefusals } from '../http/errors.js';
import type { Evidence } from '../release/evidence.js';
import type { Repository } from '../release/repository.js';
import type { DeliveryCounter } from '../serving/accounting.js';
import type { Notifier } from '../serving/notifier.js';
import { announceTick } from '../serving/push.js';
import type { NodeConfig } from './config.js';
import type { NodeLog } from './node-log.js';
import type { NodeStorage } from './node-storage.js';
import type { OpsLog } from './ops-log.js';
import { startSync } from './sync.js';

/** How often a serving node asks its witnesses again for the latest checkpoint they have not cosigned. */
const COSIGN_RETRY_MS = 5000;

/**
 * The timers of a serving node (`sync`): the refresh and pre-render loops, tick announcements,
 * roll-ups, heartbeats, the refusal summary, the witnesses asked again, the clock read against the
 * database's. A node opened without `sync` (tests drive time by hand) runs none of them. Returns
 * what stops them all.
 */
export function startLoops(
  sync: boolean,
  parts: {
    settings: NodeConfig;
    storage: NodeStorage;
    nodeLog: NodeLog;
    repo: Repository;
    evidence: Evidence;
    notifier: Notifier;
    counter: DeliveryCounter;
    opsLog: OpsLog;
  },
): () => void {
  const { settings, storage, nodeLog, repo, evidence, notifier, counter, opsLog } = parts;
  const { cosigning } = nodeLog;
  void cosigning?.kick();
  if (!sync) return () => {};
  const stopSync = startSync(repo, {
    refreshMs: 1000,
    onTick: () => evidence.activations(),
    onRollup: () => evidence.rollup(),
    rollupMs: settings.rollupMs,
    onTickStart: (k) =>
      void announceTick(repo, notifier, counter, k).catch((error: unknown) =>
        console.error(`push for tick ${k} not sent: ${(error as Error).message}`),
      ),
    heartbeatMs: settings.streamHeartbeatMs,
    onHeartbeat: () => notifier.heartbeat(repo.currentTick()),
    monitor: storage.monitor,
  });
  const timers = [
    // Refusals by code, once per roll-up interval when there were any: a spike an operator should see.
    setInterval(() => logRefusals(opsLog, settings.rollupMs), settings.rollupMs),
    // A witness that refused (away, or not yet following a log-key rotation) is asked again without
    // waiting for the next checkpoint: a quiet log may not append one for a long time.
    ...(cosigning ? [setInterval(() => void cosigning.kick(), COSIGN_RETRY_MS)] : []),
    ...(storage.measureClock
      ? [setInterval(() => void storage.measureClock!().catch(() => {}), 5000)]
      : []),
  ];
  for (const timer of timers) timer.unref();
  return () => {
    stopSync();
    for (const timer of timers) clearInterval(timer);
  };
}

/** One line: the error answers of the last interval by code, most frequent first; none: no line. */
export function logRefusals(opsLog: OpsLog, intervalMs: number): void {
  const counts = [...drainRefusals()].sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  if (counts.length === 0) return;
  const total = counts.reduce((sum, [, n]) => sum + n, 0);
  opsLog.log(
    'info',
    'refusals',
    `${total} refused in the last ${Math.round(intervalMs / 1000)}s: ${counts.map(([code, n]) => `${code} ${n}`).join(', ')}`,
    { total, ...Object.fromEntries(counts) },
  );
}
