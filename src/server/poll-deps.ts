import type { PollDeps } from '../http/fast-poll.js';
import type { FairpatchNode } from './node.js';

/**
 * What the poll's fast paths need from a node: they answer only when the app would answer the same
 * (state fresh enough, clock within bounds of the database's); the HTTP server adds its own
 * connection cap.
 */
export function pollDeps(node: FairpatchNode): PollDeps {
  const clock = node.appDeps.clock;
  return {
    repo: node.repo,
    counter: node.counter,
    maxStateAgeMs: node.appDeps.maxStateAgeMs ?? (() => Infinity),
    accept: () => !clock?.offset.skewed(clock.maxSkewMs),
    onPoll: (group) => node.appDeps.metrics?.poll(group),
  };
}
