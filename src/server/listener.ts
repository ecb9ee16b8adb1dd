import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { fastPoll } from '../http/fast-poll.js';
import type { FairpatchNode } from './node.js';

/** What `serve` hands to node:http: the poll's fast path, then the Hono app for everything else. */
export function requestListener(node: FairpatchNode): (req: IncomingMessage, res: ServerResponse) => void {
  const app = getRequestListener(node.app.fetch);
  return fastPoll({ repo: node.repo, counter: node.counter, maxStateAgeMs: node.appDeps.maxStateAgeMs ?? (() => Infinity) }, (req, res) => void app(req, res));
}
