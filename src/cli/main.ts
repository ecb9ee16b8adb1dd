#!/usr/bin/env -S node --no-memory-reducer
// The flag is a serving node's (src/serving/serving-flags.ts); it costs the other commands nothing.
import { runCli } from './dispatch.js';
import { exitCodeFor } from './exit-codes.js';
import { failureText } from './failure.js';
import { COMMANDS } from './table.js';
import { stopWithLauncher } from './launcher.js';

// A throw outside the command's promise (an event handler in a long-running serve or agent) gets
// the same one line, or the same "this is a bug" report, and the same status as one inside.
process.on('uncaughtException', (error) => {
  console.error(failureText(error, process.argv[2] ?? ''));
  process.exit(exitCodeFor(error, process.argv[2]));
});

// Under npx or an npm script, a SIGTERM to npm must stop this process too.
stopWithLauncher();

// exitCode, not exit(): a server (serve, agent) keeps running after runCli returns.
process.exitCode = await runCli(COMMANDS, process.argv.slice(2), {
  out: (t) => console.log(t),
  err: (t) => console.error(t),
});
