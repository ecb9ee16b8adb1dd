import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { type Context, Hono } from 'hono';
import { FairpatchError } from '../../errors.js';
import type { Notifier, Subscriber } from '../../serving/notifier.js';
import { sseMessage } from '../../serving/notifier.js';
import type { Repository } from '../../release/repository.js';
import { parseGroup } from '../../common/names.js';

/** Defaults: the node's settings streamIdleMs and streamRetryMs (src/server/config.ts). */
export interface EventRouteOptions {
  /** Streams are closed after this long; clients reconnect (and land on another node, maybe). */
  idleMs: number;
  /** The reconnect delay suggested to clients (`retry:`). */
  retryMs: number;
}

/** HTTP/1.1 chunked framing of one SSE message, computed once per message for every stream. */
const framed = new WeakMap<Uint8Array, Buffer>();
function chunked(bytes: Uint8Array): Buffer {
  let frame = framed.get(bytes);
  if (!frame) {
    frame = Buffer.concat([
      Buffer.from(`${bytes.length.toString(16)}\r\n`),
      bytes,
      Buffer.from('\r\n'),
    ]);
    framed.set(bytes, frame);
  }
  return frame;
}

/**
 * `GET /g/<group>/events`: Server-Sent Events announcing each activation at its tick. The
 * stream carries no authority: agents refresh and verify through TUF when told.
 *
 * Frames go straight to the response's socket, pre-framed as HTTP/1.1 chunks, rather than through
 * Hono's streamSSE or ServerResponse.write: streamSSE's web-stream pipeline took ~120 ms of one core
 * to fan out to 10,000 streams, and ServerResponse corks each write until the next tick, so nothing
 * left before the whole loop ended (measured with bench/sse.ts). A socket write goes out at once; the socket's
 * buffered byte count is the honest measure of a consumer that stopped reading.
 */
export function eventRoutes(deps: {
  repo: Repository;
  notifier: Notifier;
  clientAddress: (c: Context) => string;
  options: EventRouteOptions;
}): Hono<{ Bindings: HttpBindings }> {
  const { repo, notifier, options } = deps;
  const app = new Hono<{ Bindings: HttpBindings }>();

  app.get('/g/:group/events', (c) => {
    const group = c.req.param('group');
    parseGroup(group);
    const outgoing = c.env?.outgoing;
    if (!outgoing)
      throw new FairpatchError(
        'NOT_READY',
        'event streams are served by the Node HTTP server only; poll instead',
      );
    const socket = outgoing.socket;
    if (!socket) throw new FairpatchError('NOT_READY', 'no socket');
    const subscriber: Subscriber = {
      group,
      address: deps.clientAddress(c),
      write: (bytes) => void (socket.writable && socket.write(chunked(bytes))),
      queuedBytes: () => socket.writableLength,
      close: () => socket.destroy(),
    };
    const remove = notifier.add(subscriber); // throws RATE_LIMITED (429) before the stream starts
    outgoing.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    outgoing.flushHeaders();
    const k = repo.currentTick();
    subscriber.write(
      sseMessage(
        'state',
        JSON.stringify({ tick: k, snapshot_version: repo.view.snapshotVersionAt(k) }),
        undefined,
        options.retryMs,
      ),
    );
    const idle = setTimeout(() => outgoing.end(), options.idleMs);
    idle.unref();
    outgoing.once('close', () => {
      clearTimeout(idle);
      remove();
    });
    return RESPONSE_ALREADY_SENT;
  });
  return app;
}
