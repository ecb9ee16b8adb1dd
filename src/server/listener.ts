import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { fastPoll } from '../http/fast-poll.js';
import type { FairpatchNode } from './node.js';

/**
 * The poll's fast path in front of the app: plain polls of timestamp.json answered before Hono, but
 * only when the app would answer them the same (clock within bounds, connection not over its cap).
 */
export function pollFront(
  node: FairpatchNode,
  overCap: (req: IncomingMessage) => boolean,
): (app: RequestListener) => RequestListener {
  const clock = node.appDeps.clock;
  return (app) =>
    fastPoll(
      {
        repo: node.repo,
        counter: node.counter,
        maxStateAgeMs: node.appDeps.maxStateAgeMs ?? (() => Infinity),
        accept: (req) => !overCap(req) && !clock?.offset.skewed(clock.maxSkewMs),
        onPoll: (group) => node.appDeps.metrics?.poll(group),
      },
      (req: IncomingMessage, res: ServerResponse) => void app(req, res),
    );
}
