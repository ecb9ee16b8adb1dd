import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ReceiptBatch } from '../common/observation.js';
import { type ErrorCode, FairpatchError } from '../errors.js';
import { type PreparedBatch, prepareReceiptBatch } from './check.js';

export interface CheckRequest {
  id: number;
  text: string;
}
export type CheckReply =
  | { id: number; prepared: PreparedBatch }
  | {
      id: number;
      error: { code: ErrorCode; message: string; details?: Record<string, unknown> | undefined };
    };

/** The compiled worker beside this module; absent when running from TypeScript sources. */
function compiledWorker(): URL | undefined {
  const url = new URL('./check-worker.js', import.meta.url);
  return existsSync(fileURLToPath(url)) ? url : undefined;
}
/**
 * Bodies shorter than this (a few dozen receipts, what one agent sends) are checked on the event
 * loop: the round trip to the worker would cost more than it saves.
 */
const INLINE_BELOW = 16 * 1024;

/**
 * Runs the CPU-bound half of receipt checks (`prepareReceiptBatch`) on a worker thread, so the event
 * loop keeps to the database, the log and the answers while batches are parsed, hashed and verified
 * (the signatures themselves still spread over libuv's thread pool, from the worker). The worker's
 * answer is a verdict on the exact text the event loop then parses again: JSON.parse of a body is a
 * small part of the cost, and nothing crosses threads but the text and plain data.
 *
 * The worker is started on first use and restarted after it stops; it holds the process open only
 * while a check is under way.
 * Run from TypeScript sources (the tests' in-process nodes), there is no compiled worker file, and the
 * same function runs inline: the same verdicts, on one thread.
 */
export class ReceiptCheckers {
  private worker: Worker | undefined;
  private readonly pending = new Map<
    number,
    { resolve: (p: PreparedBatch) => void; reject: (e: unknown) => void }
  >();
  private nextId = 0;
  private closed = false;

  constructor(private readonly workerFile: URL | undefined = compiledWorker()) {}

  async prepare(text: string): Promise<{ batch: ReceiptBatch; prepared: PreparedBatch }> {
    const file = this.workerFile;
    if (!file || this.closed || text.length < INLINE_BELOW) return prepareReceiptBatch(text);
    const prepared = await new Promise<PreparedBatch>((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      const worker = this.started(file);
      worker.ref(); // a check under way keeps the process up, as the same work inline would
      worker.postMessage({ id, text } satisfies CheckRequest);
    });
    // The worker found these bytes to be a valid batch: parsed again here, they are the same value.
    return { batch: JSON.parse(text) as ReceiptBatch, prepared };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.worker?.terminate();
  }

  private started(file: URL): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(file);
    worker.unref();
    worker.on('message', (reply: CheckReply) => {
      const waiting = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      if (!waiting) return;
      if ('prepared' in reply) waiting.resolve(reply.prepared);
      else
        waiting.reject(
          new FairpatchError(reply.error.code, reply.error.message, {
            details: reply.error.details,
          }),
        );
    });
    const stopped = (cause: unknown) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const { reject } of this.pending.values())
        reject(new FairpatchError('INTERNAL', 'the receipt checker stopped', { cause }));
      this.pending.clear();
    };
    worker.on('error', stopped);
    worker.on('exit', stopped);
    this.worker = worker;
    return worker;
  }
}
