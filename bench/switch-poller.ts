import { createHash } from 'node:crypto';
import { type TickConfig, tickStart } from '../src/common/tick.js';
import { RawPoller } from './lib/raw-poller.js';

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
}

const now = (): number => performance.timeOrigin + performance.now();

/**
 * Polls every target on `loopsPerNode` keep-alive connections of its own from `windowMs` before to `windowMs` after each
 * tick's start (and on until a response carries the tick), `paceMs` after each answer. Nothing polls
 * between windows, so the pollers leave the cores to the nodes.
 */
export async function pollWindows(plan: PollPlan): Promise<PollOutcome> {
  const outcome: PollOutcome = {
    samples: plan.targets.map(() => []),
    errors: plan.targets.map(() => 0),
  };
  await Promise.all(
    plan.targets.flatMap((url, i) =>
      Array.from({ length: plan.loopsPerNode }, async () => {
        const poller = new RawPoller(new URL(url), `/g/bench-${i}/metadata/timestamp.json`);
        try {
          for (const k of plan.ticks) {
            const start = tickStart(plan.cfg, k);
            await new Promise((r) =>
              setTimeout(r, Math.max(0, start - plan.windowMs - Date.now())),
            );
            // A poller woken late by a loaded machine goes on until it sees tick k, not to miss it.
            // (Each connection on its own: one seeing it says nothing of when the other polled.)
            let seen = false;
            while ((now() < start + plan.windowMs || !seen) && now() < start + 800) {
              const sentAt = now();
              try {
                const answer = await poller.get();
                const at = now();
                if (answer.status !== 200) throw new Error(String(answer.status));
                const doc = JSON.parse(answer.body.toString()) as {
                  signed: { version: number; meta: { 'snapshot.json': { version: number } } };
                };
                if (doc.signed.version >= k) seen = true;
                outcome.samples[i]!.push({
                  sentAt,
                  at,
                  tick: doc.signed.version,
                  snapshot: doc.signed.meta['snapshot.json'].version,
                  digest: createHash('sha256').update(answer.body).digest('hex'),
                });
              } catch {
                outcome.errors[i]!++;
              }
              // Paced, not back to back: loops as fast as they go measure how the two cores are
              // shared out rather than when a node switches.
              await new Promise((r) => setTimeout(r, plan.paceMs));
            }
          }
        } finally {
          poller.close();
        }
      }),
    ),
  );
  return outcome;
}
