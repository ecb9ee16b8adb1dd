import { parentPort } from 'node:worker_threads';
import { FairpatchError } from '../errors.js';
import { prepareReceiptBatch } from './check.js';
import type { CheckReply, CheckRequest } from './checkers.js';

// The worker thread of src/receipts/checkers.ts: the first half of the receipt checks, one body at a
// time as they come. Every failure goes back as an answer; nothing a body holds ends this thread.

parentPort?.on('message', ({ id, text }: CheckRequest) => {
  prepareReceiptBatch(text).then(
    ({ prepared }) => parentPort?.postMessage({ id, prepared } satisfies CheckReply),
    (error: unknown) =>
      parentPort?.postMessage({
        id,
        error:
          error instanceof FairpatchError
            ? { code: error.code, message: error.message, details: error.details }
            : { code: 'INTERNAL', message: 'the receipt check failed' },
      } satisfies CheckReply),
  );
});
