/**
 * V8 flags every serving process runs with: the cluster's workers get them from their primary, and
 * `npm start` and the `fairpatch` command (its first line) pass them to node. They must be on node's
 * command line: set from inside a running process (v8.setFlagsFromString) they no longer take, and
 * NODE_OPTIONS refuses them.
 *
 * `--no-memory-reducer`: when allocation slows down, as it does for a node between bursts of polls,
 * V8 takes the process for idle and runs full, compacting collections to hand memory back to the
 * system. On a node these stopped the process for 9–37 ms (`--trace-gc`: "Mark-Compact (reduce)"),
 * and nodes started together ran them at the same tick, so that tick's first polls waited for all of
 * them: `npm run bench:switch` measured every node's worst first poll of a tick at 10–12 ms with the
 * reducer, 3.1–4.3 ms without (PostgreSQL, one run each, same machine, same hour). A node's heap is a few tens of
 * MiB, so what the reducer gives back is small; what it costs is the punctuality a node is for. The
 * collections the heap needs still run, incrementally, as before.
 */
export const SERVING_FLAGS = ['--no-memory-reducer'] as const;

/** `execArgv` with the serving flags it lacks added. */
export function withServingFlags(execArgv: readonly string[]): string[] {
  return [...execArgv, ...SERVING_FLAGS.filter((flag) => !execArgv.includes(flag))];
}
