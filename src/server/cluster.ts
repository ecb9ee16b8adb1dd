import cluster, { type Worker } from 'node:cluster';
import { withServingFlags } from '../serving/serving-flags.js';

/**
 * One node on every core: the primary forks `workers` copies of this very command (node:cluster),
 * which share the listening socket, and supervises them. It serves nothing and owns no duty itself.
 *
 * Each worker is a whole node over the same database: it refreshes the committed state, pre-renders
 * each tick's timestamp, announces ticks to its own event streams and rolls up its own poll counts.
 * That needs no coordination, for the reasons several nodes over one database need none:
 * - what is served at tick k is a pure function of (committed state, k, keys), and Ed25519 signs
 *   deterministically, so every worker renders the same bytes;
 * - every log leaf a node writes on its own (the repository's creation, each schedule, activation,
 *   halt and root) is named by a dedupe key derived from committed state, so N workers writing it
 *   land it once;
 * - roll-ups count each worker's own polls, under its own name and instance id, so they add up
 *   instead of colliding.
 * The one step that is not idempotent — creating or migrating the database, and the dev seed — the
 * primary does before it forks (see the serve command).
 */
export interface SuperviseOptions {
  workers: number;
  /** Called once, when every worker listens, with the port they share. */
  onListening: (port: number) => void;
}

export function superviseWorkers(options: SuperviseOptions): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    let exitCode = 0;
    let listening = 0;
    let port = 0;
    const live = new Set<Worker>();
    cluster.setupPrimary({ execArgv: withServingFlags(process.execArgv) });
    const fork = (): void => {
      const worker = cluster.fork();
      live.add(worker);
    };
    const stop = (code: number): void => {
      if (stopping) return;
      stopping = true;
      exitCode = code;
      if (live.size === 0) resolve(code);
      for (const worker of live) worker.process.kill('SIGTERM');
      // A worker that does not stop in time is killed: the primary must not hang on it.
      setTimeout(() => {
        for (const worker of live) worker.process.kill('SIGKILL');
      }, 10_000).unref();
    };
    // The first worker starts alone: a failure every worker would meet (a busy port, an unreachable
    // database) is then reported once, by one process. The others follow once it listens.
    cluster.on('listening', (_worker, address) => {
      port = address.port;
      listening++;
      if (listening === 1) for (let i = 1; i < options.workers; i++) fork();
      if (listening === options.workers) options.onListening(port);
    });
    cluster.on('exit', (worker, code, signal) => {
      live.delete(worker);
      if (stopping) {
        if (live.size === 0) resolve(exitCode);
        return;
      }
      // A worker that fails before all listen (busy port, bad database URL…) fails the command:
      // its own message is already on stderr. Later deaths are replaced.
      if (listening < options.workers) return stop(code || 1);
      console.error(`worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
      fork();
    });
    fork();
    process.once('SIGINT', () => stop(0));
    process.once('SIGTERM', () => stop(0));
  });
}

/** This process's worker number (1…N) when it is a cluster worker. */
export function workerId(): number | undefined {
  return cluster.isWorker ? cluster.worker?.id : undefined;
}
