// The fairpatch-agent executable's entry: scripts/build-agent.mjs bundles this file with esbuild and
// makes it a Node single executable application. It holds `fairpatch agent` and its subcommands and
// nothing else, so it loads neither the server nor a native module and needs no node_modules:
// `fairpatch-agent agent …` takes exactly the options of `fairpatch agent …` (one description,
// src/cli/agent.ts). No top-level await: a single executable's main script is CommonJS.
import { agent } from './agent.js';
import { agentVersion } from './agent-version.js';
import { runCli } from './dispatch.js';
import { exitCodeFor } from './exit-codes.js';
import { failureText } from './failure.js';

/** What users run: help and errors name it, not the npm package's `fairpatch`. */
const PROGRAM = 'fairpatch-agent';

// As in main.ts: a throw outside the command's promise is one line and the same status.
process.on('uncaughtException', (error) => {
  console.error(failureText(error, process.argv[2] ?? '', PROGRAM));
  process.exit(exitCodeFor(error, process.argv[2]));
});

const argv = process.argv.slice(2);
// The executable's own stamp, not package.json's: a bundled file has no package.json beside it.
if (argv[0] === '--version' || argv[0] === '-v') console.log(agentVersion());
else
  void runCli([agent], argv, {
    out: (t) => console.log(t),
    err: (t) => console.error(t),
    program: PROGRAM,
  }).then((code) => {
    // exitCode, not exit(): a running agent keeps going after runCli returns.
    process.exitCode = code;
  });
