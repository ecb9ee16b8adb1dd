import PQueue from 'p-queue';
import { assertLeafFits } from './limits.js';
import { type LogEntry, LogConflict, type LogStore } from './store.js';

/** Where an entry landed: its index, and whether its own data is what the log holds there. */
export interface Placement {
  index: number;
  /** False when its dedupe name was logged before (by anyone): the leaf at `index` is that earlier one. */
  appended: boolean;
}

interface Pending {
  entry: LogEntry;
  resolve: (placement: Placement) => void;
  reject: (error: unknown) => void;
}

/**
 * The one way leaves enter the log: a queue of concurrency 1 per node that takes every
 * entry waiting when its turn comes and appends them in one transaction, so a burst of N appends
 * costs one checkpoint, not N. Across nodes, `log_head` serializes; a lost race is retried.
 */
export class Sequencer {
  private readonly queue = new PQueue({ concurrency: 1 });
  private pending: Pending[] = [];

  constructor(
    private readonly store: LogStore,
    private readonly now: () => number,
    private readonly options: { maxBatch: number; maxRetries: number } = {
      maxBatch: 2000,
      maxRetries: 20,
    },
    /** Told of each batch durably appended: its entries and the seconds it took, retries included (metrics). */
    private readonly onAppended: (entries: number, seconds: number) => void = () => {},
  ) {}

  /** Resolves with the entry's index once it is durably in the log and covered by a checkpoint. */
  append(entry: LogEntry): Promise<number> {
    return this.appendAll([entry]).then((indices) => indices[0] as number);
  }

  /** `append` for several entries, resolving with each one's index (the same batching as `placeAll`). */
  async appendAll(entries: readonly LogEntry[]): Promise<number[]> {
    return (await this.placeAll(entries)).map((p) => p.index);
  }

  /**
   * Appends several entries: all are queued before a flush is asked for, so a batch lands in one
   * transaction under one checkpoint (a flush takes up to `maxBatch` waiting entries).
   */
  placeAll(entries: readonly LogEntry[]): Promise<Placement[]> {
    // A leaf over the log's bound is refused before it is queued, so none of the batch lands: no
    // reader (the auditor, the dashboard, a witness) is ever handed a leaf it cannot take.
    try {
      for (const e of entries) assertLeafFits(e.data, `the entry ${e.dedupe.slice(0, 80)}`);
    } catch (error) {
      return Promise.reject(error);
    }
    const promises = entries.map(
      (entry) =>
        new Promise<Placement>((resolve, reject) => this.pending.push({ entry, resolve, reject })),
    );
    // One flush when the queue was empty, and one more each time it fills another `maxBatch`: the
    // same flushes as appending one by one, asked for once every entry is in.
    const after = this.pending.length;
    const before = after - entries.length;
    let flushes =
      Math.floor(after / this.options.maxBatch) - Math.floor(before / this.options.maxBatch);
    if (before === 0 && after > 0 && this.options.maxBatch !== 1) flushes++;
    for (let i = 0; i < flushes; i++) void this.queue.add(() => this.flush());
    return Promise.all(promises);
  }

  /** Waits until everything appended so far is in the log. */
  async idle(): Promise<void> {
    await this.queue.onIdle();
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0, this.options.maxBatch);
    if (batch.length === 0) return;
    const t0 = performance.now();
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await this.store.append(
          batch.map((p) => p.entry),
          this.now(),
        );
        this.onAppended(batch.length, (performance.now() - t0) / 1000);
        for (const [i, p] of batch.entries())
          p.resolve({
            index: result.indices[i] as number,
            appended: result.appended[i] as boolean,
          });
        return;
      } catch (error) {
        if (error instanceof LogConflict && attempt < this.options.maxRetries) {
          await new Promise((r) => setTimeout(r, Math.random() * 5 * (attempt + 1)));
          continue;
        }
        for (const p of batch) p.reject(error);
        return;
      }
    }
  }
}
