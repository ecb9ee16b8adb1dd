import { createHash } from 'node:crypto';
import { getPriority, setPriority } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type TickConfig, tickStart } from '../../src/common/tick.js';
import { RawPoller } from './raw-poller.js';

/** One poll's answer as the switch benchmark judges it. */
export interface SwitchSample {
  sentAt: number;
  at: number;
  tick: number;
  snapshot: number;
  /** SHA-256 of the bytes, to count distinct documents per tick across nodes. */
  digest: string;
}

export interface PollPlan {
  /** Each target's base URL; `samples[i]` answers `targets[i]`. */
  targets: string[];
  cfg: TickConfig;
  /** The ticks around whose starts to poll. */
  ticks: number[];
  /** Answers to polls around earlier ticks are not kept (a warm-up). */
  measureFrom: number;
  windowMs: number;
  paceMs: number;
  loopsPerNode: number;
}

export interface PollOutcome {
  samples: SwitchSample[][];
  errors: number[];
  /** The pollers' niceness while they polled (POLLER_NICE if the system allowed it). */
  nice: number;
}

/**
 * How much more of the cores the pollers ask for than the nodes. The pollers stand for clients on
 * machines of their own, but here they share two cores with three nodes, a database and the
 * baseline, and the scheduler gives way least to the busiest process in a window, which is them: at
 * default priority the first poll after a tick's start now and then left 4–8 ms late, for every
 * node and the baseline at once, and the nodes were charged with the wait. The nodes keep the
 * default priority.
 */
const POLLER_NICE = -10;

/** Raises this process's priority if the system lets it; returns the niceness it now has. */
function raisePriority(): number {
  try {
    setPriority(POLLER_NICE);
  } catch {
    // Not permitted (not root, no CAP_SYS_NICE): the pollers run as they are, and the table says so.
  }
  return getPriority();
}

/** What the pollers read of a timestamp.json. */
type Timestamp = { signed: { version: number; meta: { 'snapshot.json': { version: number } } } };

const now = (): number => performance.timeOrigin + performance.now();

/**
 * A full collection of this process's heap, between measurement windows. The pollers are the
 * instrument: left to itself V8 collected in the middle of a window (--trace-gc on this process
 * showed scavenges of 4–8 ms and an 11.8 ms finish of incremental marking), and no poll was sent
 * meanwhile, so a node looked slow to switch while it waited for a poll. Collected after each window,
 * the little a window allocates fits the young generation and nothing is collected inside one.
 */
const collect: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/**
 * Polls every target on `loopsPerNode` keep-alive connections of its own from `windowMs` before to
 * `windowMs` after each tick's start (and on until a response carries the tick), `paceMs` after each
 * answer. Nothing polls between windows, so the pollers leave the cores to the nodes; the heap is
 * collected there (`collect`). Responses are kept whole and hashed after the last window.
 */
export async function pollWindows(plan: PollPlan): Promise<PollOutcome> {
  const pollers = plan.targets.map((url, i) =>
    Array.from(
      { length: plan.loopsPerNode },
      () => new RawPoller(new URL(url), `/g/bench-${i}/metadata/timestamp.json`),
    ),
  );
  // Read in the window (the version decides when a connection may stop); hashed after the last one.
  const raw: Array<Array<Omit<SwitchSample, 'digest'> & { body: Buffer }>> = plan.targets.map(
    () => [],
  );
  const errors = plan.targets.map(() => 0);
  const niceBefore = getPriority();
  const nice = raisePriority();
  try {
    for (const k of plan.ticks) {
      const start = tickStart(plan.cfg, k);
      await new Promise((r) => setTimeout(r, Math.max(0, start - plan.windowMs - Date.now())));
      await Promise.all(
        pollers.flatMap((connections, i) =>
          connections.map(async (poller) => {
            // A poller woken late by a loaded machine goes on until it sees tick k, not to miss
            // it. (Each connection on its own: one seeing it says nothing of when the other polled.)
            let seen = false;
            while ((now() < start + plan.windowMs || !seen) && now() < start + 800) {
              const sentAt = now();
              try {
                const answer = await poller.get();
                const at = now();
                if (answer.status !== 200) throw new Error(String(answer.status));
                const doc = JSON.parse(answer.body.toString()) as Timestamp;
                const tick = doc.signed.version;
                const snapshot = doc.signed.meta['snapshot.json'].version;
                if (k >= plan.measureFrom)
                  raw[i]!.push({ sentAt, at, tick, snapshot, body: answer.body });
                seen ||= tick >= k;
              } catch {
                errors[i]!++;
              }
              // Paced, not back to back: loops as fast as they go measure how the two cores are
              // shared out rather than when a node switches.
              await new Promise((r) => setTimeout(r, plan.paceMs));
            }
          }),
        ),
      );
      collect();
    }
  } finally {
    for (const poller of pollers.flat()) poller.close();
    setPriority(niceBefore);
  }
  return {
    nice,
    samples: raw.map((answers) =>
      answers.map(({ body, ...read }) => ({
        ...read,
        digest: createHash('sha256').update(body).digest('hex'),
      })),
    ),
    errors,
  };
}
