import type { IncomingMessage, ServerResponse } from 'node:http';
import { GROUP_PATTERN } from '../common/names.js';
import type { DeliveryCounter } from '../release/accounting.js';
import type { Repository } from '../release/repository.js';
import { DEFAULT_GROUP } from './routes/tuf.js';
import { timestampDocument } from './timestamp.js';

type Listener = (req: IncomingMessage, res: ServerResponse) => void;
const SUFFIX = '/metadata/timestamp.json';

/**
 * The poll — a plain GET of `[/g/<group>]/metadata/timestamp.json`, nearly all of a node's traffic —
 * answered before the web framework: the same bytes, headers and accounting as the Hono route,
 * without building a Request, routing and composing middleware per poll. Everything else goes to
 * `next`, including whatever this would answer differently: conditional requests, HEAD, encoded or
 * invalid group names, query strings, and refusals (a node whose state is too old).
 */
export function fastPoll(
  deps: {
    repo: Repository;
    counter: DeliveryCounter;
    maxStateAgeMs: () => number;
    /** False when the app would refuse (a clock off the database's, a connection over its cap): it answers then. */
    accept?: (req: IncomingMessage) => boolean;
    onPoll?: (group: string) => void;
  },
  next: Listener,
): Listener {
  const { repo, counter } = deps;
  return (req, res) => {
    const url = req.url ?? '';
    if (
      req.method === 'GET' &&
      url.endsWith(SUFFIX) &&
      req.headers['if-none-match'] === undefined &&
      repo.stateAge() <= deps.maxStateAgeMs() &&
      (deps.accept?.(req) ?? true)
    ) {
      const group =
        url === SUFFIX
          ? DEFAULT_GROUP
          : url.startsWith('/g/') && GROUP_PATTERN.test(url.slice(3, -SUFFIX.length))
            ? url.slice(3, -SUFFIX.length)
            : undefined;
      if (group !== undefined) {
        let poll: ReturnType<typeof timestampDocument> | undefined;
        const k = repo.currentTick();
        try {
          poll = timestampDocument(repo, k);
        } catch {
          // Whatever keeps this tick from being rendered (a key this node lacks, say), the app
          // answers with its code: the fast path only ever serves what the app would.
          poll = undefined;
        }
        if (poll) {
          counter.count(group, k, repo.view.snapshotVersionAt(k));
          deps.onPoll?.(group);
          res.writeHead(200, poll.headers);
          res.end(poll.bytes);
          return;
        }
      }
    }
    next(req, res);
  };
}
