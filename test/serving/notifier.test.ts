import { describe, expect, it } from 'vitest';
import { Notifier, type Subscriber } from '../../src/serving/notifier.js';

// The fan-out at a release tick writes to every open stream without holding the event loop for
// the whole pass: polls that arrive at the same boundary are answered between chunks.
const limits = { maxConnections: 100_000, maxPerAddress: 100_000, maxQueuedBytes: 1 << 20 };

function sinks(notifier: Notifier, n: number) {
  const got: number[] = [];
  const remove: Array<() => void> = [];
  for (let i = 0; i < n; i++) {
    const s: Subscriber = {
      group: `g${i % 5}`,
      address: `10.0.0.${i % 250}`,
      write: () => got.push(i),
      queuedBytes: () => 0,
      close: () => remove[i]?.(),
    };
    remove.push(notifier.add(s));
  }
  return { got, remove };
}

describe('Notifier fan-out', () => {
  it('lets other work run between chunks, and still writes every open stream once', async () => {
    const notifier = new Notifier(() => 0, limits);
    const { got, remove } = sinks(notifier, 5_000);
    let writtenWhenPollRan = -1;
    const fanout = notifier.activation(7, 3);
    // Work queued once the fan-out has begun (a poll read at the boundary) runs before it ends.
    setImmediate(() => setImmediate(() => (writtenWhenPollRan = got.length)));
    remove[4_999]!(); // closed while the fan-out is under way: skipped, not written
    const record = await fanout;
    expect(writtenWhenPollRan).toBeGreaterThan(0);
    expect(writtenWhenPollRan).toBeLessThan(4_999);
    expect(got).toHaveLength(4_999);
    expect(new Set(got).size).toBe(4_999);
    expect(got).not.toContain(4_999);
    expect([...record.groups.values()].reduce((a, b) => a + b, 0)).toBe(4_999);
    expect(got.slice(0, 50)).not.toEqual([...got].sort((a, b) => a - b).slice(0, 50)); // shuffled
  });

  it('announces a tick once, however often and however concurrently it is asked', async () => {
    const notifier = new Notifier(() => 0, limits);
    const { got } = sinks(notifier, 1_200);
    const [a, b] = await Promise.all([notifier.activation(9, 1), notifier.activation(9, 1)]);
    const c = await notifier.activation(9, 1);
    expect(a).toBe(b);
    expect(c).toBe(a);
    expect(got).toHaveLength(1_200);
    expect(notifier.fanouts.filter((f) => f.tick === 9)).toHaveLength(1);
  });
});
