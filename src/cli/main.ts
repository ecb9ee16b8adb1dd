#!/usr/bin/env node
import { runCli } from './dispatch.js';
import { COMMANDS } from './table.js';

// exitCode, not exit(): a server (serve, agent) keeps running after runCli returns.
process.exitCode = await runCli(COMMANDS, process.argv.slice(2), { out: (t) => console.log(t), err: (t) => console.error(t) });
