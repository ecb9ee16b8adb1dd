import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// SQLite copies its write-ahead log back into the database file (a checkpoint, with an fsync) on
// the connection that happens to commit past `wal_autocheckpoint` pages: on a node, that is the
// event loop, stalled for milliseconds in the middle of a receipt batch or a poll. A second
// connection on a worker thread takes that work instead, in PASSIVE mode (it never waits for or
// blocks the writer); the event loop's own automatic checkpoint stays as a backstop at a larger size.

/** The writer's own checkpoint threshold in pages (about 40 MB): reached only if the worker falls behind. */
export const BACKSTOP_PAGES = 10_000;
const EVERY_MS = 250;

// CommonJS evaluated in the worker: nothing here needs the project's compiled modules.
const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
}, workerData.everyMs);
parentPort.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/**
 * Starts checkpointing `file` from a worker thread. The returned function stops it and resolves
 * once its connection is closed: the writer's connection, closed after it, is then the last one,
 * and SQLite's closing checkpoint happens there, before its owner goes on (a process that then
 * forks workers onto the file must not have a connection still closing under them).
 */
export function startWalCheckpointer(file: string): () => Promise<void> {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(SOURCE, {
    eval: true,
    workerData: { driver, file, everyMs: EVERY_MS },
  });
  worker.unref();
  // A checkpointer that cannot start (or dies) leaves the writer's backstop doing the work: no harm.
  worker.on('error', () => {});
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return async () => {
    worker.postMessage('stop');
    // A checkpoint under way finishes first; one that hangs is not waited for long.
    const late = setTimeout(() => void worker.terminate(), 2_000);
    await exited;
    clearTimeout(late);
  };
}
