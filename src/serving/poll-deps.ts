import type { ClockOffset } from './clock-offset.js';
import type { DeliveryCounter } from './accounting.js';
import type { PollDeps } from './fast-poll.js';
import type { ServedRepository } from './served-repository.js';

/** What of a node (src/server/node.ts's FairpatchNode) the poll's fast paths read. */
export interface PollingNode {
  repo: ServedRepository;
  counter: DeliveryCounter;
  appDeps: {
    clock?: { offset: ClockOffset; maxSkewMs: number };
    maxStateAgeMs?: () => number;
    metrics?: { poll(group: string): void };
  };
}

/**
 * What the poll's fast paths need from a node: they answer only when the app would answer the same
 * (state fresh enough, clock within bounds of the database's); the HTTP server adds its own
 * connection cap.
 */
export function pollDeps(node: PollingNode): PollDeps {
  const clock = node.appDeps.clock;
  return {
    repo: node.repo,
    counter: node.counter,
    maxStateAgeMs: node.appDeps.maxStateAgeMs ?? (() => Infinity),
    accept: () => !clock?.offset.skewed(clock.maxSkewMs),
    onPoll: (group) => node.appDeps.metrics?.poll(group),
  };
}
