#!/usr/bin/env node
import { FairpatchError } from '../errors.js';
import { haltCommand, keygenCommand, logCommand, publishCommand, rootCommand, vendorCommand } from './commands.js';
import { serveCommand } from './serve.js';
import { auditCommand } from './audit.js';
import { agentCommand } from './agent.js';

const USAGE = `fairpatch <command> [options]   (fairpatch <command> --help for each)
  serve      run a repository node
  keygen     create repository keys, or a vendor key (--vendor NAME)
  vendor     add a vendor to the repository (operator)
  publish    sign and upload a patch manifest (vendor)
  halt       withdraw a patch version for everyone at one tick (vendor)
  root       rotate root metadata (root key holders)
  log        rotate the transparency log's key (begin, then promote)
  agent      poll, verify, install patches and keep receipts (customer machines)
  audit      verify the transparency log and receipts; FAIR (0), UNFAIR (1), cannot verify (2)`;

const commands: Record<string, (argv: string[]) => Promise<void>> = {
  serve: serveCommand,
  keygen: keygenCommand,
  vendor: vendorCommand,
  publish: publishCommand,
  halt: haltCommand,
  root: rootCommand,
  log: logCommand,
  audit: auditCommand,
  agent: agentCommand,
};

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const command = name ? commands[name] : undefined;
  if (!command) {
    console.log(USAGE);
    process.exitCode = name && name !== '--help' ? 2 : 0;
    return;
  }
  await command(rest);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof FairpatchError) {
    console.error(`fairpatch: ${error.code}: ${error.message}`);
    process.exitCode = error.status >= 500 ? 2 : 1;
  } else {
    // One line for people; the stack only on request.
    console.error(process.env.FAIRPATCH_DEBUG ? error : `fairpatch: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
  }
});
