import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono, type Context } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import { FairpatchError } from '../../errors.js';
import type { Notifier, Subscriber } from '../../release/notifier.js';
import { sseMessage } from '../../release/notifier.js';
import type { Repository } from '../../release/repository.js';
import { GROUP_PATTERN } from '../../receipts/schema.js';

export interface EventRouteOptions {
  /** Streams are closed after this long; clients reconnect (and land on another node, maybe). Default 30 min. */
  idleMs: number;
  /** The reconnect delay suggested to clients (`retry:`). Default 3 s. */
  retryMs: number;
}

function address(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown'; // in-process requests (tests) have no socket
  }
}

/**
 * `GET /g/<group>/events` (issue 7): Server-Sent Events announcing each activation at its tick. The
 * stream carries no authority: agents refresh and verify through TUF when told.
 */
export function eventRoutes(deps: { repo: Repository; notifier: Notifier; options?: Partial<EventRouteOptions> }): Hono {
  const { repo, notifier } = deps;
  const options: EventRouteOptions = { idleMs: 30 * 60_000, retryMs: 3000, ...deps.options };
  const app = new Hono();

  app.get('/g/:group/events', (c) => {
    const group = c.req.param('group');
    if (!GROUP_PATTERN.test(group)) throw new FairpatchError('GROUP_INVALID', 'group: lowercase letters, digits, . _ -, at most 64');
    let stream: SSEStreamingApi | undefined;
    let pending = 0;
    const subscriber: Subscriber = {
      group,
      address: address(c),
      write(bytes) {
        if (!stream || stream.aborted || stream.closed) return;
        pending++;
        // Not awaited: the promise settles when the consumer has taken the chunk.
        void stream.write(bytes).finally(() => pending--);
      },
      queued: () => pending,
      close: () => stream?.abort(),
    };
    const remove = notifier.add(subscriber); // throws RATE_LIMITED (429) before any stream starts
    return streamSSE(c, async (s) => {
      stream = s;
      const k = repo.currentTick();
      subscriber.write(sseMessage('state', JSON.stringify({ tick: k, snapshot_version: repo.view.snapshotVersionAt(k) }), undefined, options.retryMs));
      await new Promise<void>((resolve) => {
        const idle = setTimeout(resolve, options.idleMs);
        idle.unref();
        s.onAbort(() => {
          clearTimeout(idle);
          resolve();
        });
      });
      remove();
    });
  });
  return app;
}
