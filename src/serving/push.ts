import type { DeliveryCounter } from './accounting.js';
import type { FanoutRecord, Notifier } from './notifier.js';
import type { ServedRepository } from './served-repository.js';

/**
 * At the start of tick k: if a release or halt activates now, tell every open stream, from one
 * buffer, and count who was told. Called by the tick timer, or by tests that own the clock.
 */
export async function announceTick(
  repo: ServedRepository,
  notifier: Notifier,
  counter: DeliveryCounter,
  k: number,
): Promise<FanoutRecord | undefined> {
  const view = repo.view;
  if (!view.activatesAt(k)) return undefined;
  // Render first, so agents told now find the new timestamp ready.
  view.timestampAt(k);
  const record = await notifier.activation(k, view.snapshotVersionAt(k));
  counter.notified(k, record.groups, record.durationMs);
  return record;
}
