import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { GROUP_PATTERN } from '../common/names.js';
import { DEFAULT_GROUP } from './accounting.js';
import { type PollCounting, countPoll, staleState } from './poll.js';
import { type RenderedPoll, timestampDocument } from './timestamp.js';

type Listener = (req: IncomingMessage, res: ServerResponse) => void;
const SUFFIX = '/metadata/timestamp.json';

export interface PollDeps extends PollCounting {
  maxStateAgeMs: () => number;
  /** False when the app would refuse (a clock off the database's, a connection over its cap): it answers then. */
  accept?: (socket: Socket) => boolean;
}

/**
 * The poll — a plain GET of `[/g/<group>]/metadata/timestamp.json`, nearly all of a node's traffic —
 * answered without the web framework: the same bytes, headers and accounting as the Hono route.
 * Returns the document (and counts the poll) for a request target the app would answer so, or
 * undefined for anything it could answer differently: encoded or invalid group names, query strings,
 * and refusals (a node whose state is too old, a clock off the database's). The caller has already
 * left conditional requests, HEAD and every other method to the app.
 */
export function answerPoll(
  deps: PollDeps,
  target: string,
  socket: Socket,
): RenderedPoll | undefined {
  const { repo } = deps;
  if (
    !target.endsWith(SUFFIX) ||
    staleState(repo, deps.maxStateAgeMs()) ||
    !(deps.accept?.(socket) ?? true)
  )
    return undefined;
  const group =
    target === SUFFIX
      ? DEFAULT_GROUP
      : target.startsWith('/g/') && GROUP_PATTERN.test(target.slice(3, -SUFFIX.length))
        ? target.slice(3, -SUFFIX.length)
        : undefined;
  if (group === undefined) return undefined;
  const k = repo.currentTick();
  let poll: RenderedPoll;
  try {
    poll = timestampDocument(repo, k);
  } catch {
    // Whatever keeps this tick from being rendered (a key this node lacks, say), the app answers
    // with its code: the fast path only ever serves what the app would.
    return undefined;
  }
  countPoll(deps, group, k);
  return poll;
}

/** The poll's fast path as a node:http listener in front of the app; everything else goes to `next`. */
export function fastPoll(deps: PollDeps, next: Listener): Listener {
  return (req, res) => {
    const poll =
      req.method === 'GET' && req.headers['if-none-match'] === undefined
        ? answerPoll(deps, req.url ?? '', req.socket)
        : undefined;
    if (!poll) return next(req, res);
    res.writeHead(200, poll.headers);
    res.end(poll.bytes);
  };
}
