import { readFileSync } from 'node:fs';
import { parseCommandLine, wantsHelp } from './args.js';
import { UsageError } from './errors.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { failureText } from './failure.js';
import { renderHelp, renderOverview } from './help.js';
import { didYouMean } from './nearest.js';
import type { Command } from './spec.js';

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** The name the user runs this as, for help and errors (default `fairpatch`). */
  program?: string;
}

function version(): string {
  // dist/cli/main.js and src/cli/main.ts both sit two levels below package.json.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Walks `argv` down the command tree as far as its leading words name subcommands. */
function resolveCommand(
  commands: readonly Command[],
  argv: readonly string[],
): { cmd: Command; path: string[]; rest: string[] } {
  const [name = '', ...rest] = argv;
  const found = commands.find((c) => c.name === name);
  if (!found)
    throw new UsageError(
      `unknown command '${name}'${didYouMean(
        name,
        commands.map((c) => c.name),
      )}`,
    );
  let cmd: Command = found;
  const path = [name];
  while (cmd.subcommands?.length) {
    const next = rest[0];
    const sub: Command | undefined = cmd.subcommands.find((s) => s.name === next);
    if (sub) {
      cmd = sub;
      path.push(rest.shift()!);
      continue;
    }
    if (cmd.run || next === undefined || next === '--help' || next === '-h') break;
    const names = cmd.subcommands.map((s) => s.name);
    throw Object.assign(
      new UsageError(
        `unknown subcommand '${next}'${didYouMean(next, names) || `; use ${names.join(' or ')}`}`,
      ),
      { path: path.join(' ') },
    );
  }
  return { cmd, path, rest };
}

/**
 * The whole CLI as a function of argv: help, version, dispatch, and every failure turned into one
 * line and an exit status (src/cli/exit-codes.ts). Only a bug prints a stack.
 */
export async function runCli(
  commands: readonly Command[],
  argv: string[],
  io: Io,
): Promise<number> {
  const [first] = argv;
  const program = io.program ?? 'fairpatch';
  let path = '';
  try {
    if (first === undefined) {
      io.err(renderOverview(commands, program));
      return EXIT.USAGE;
    }
    if (first === '--help' || first === '-h') {
      io.out(renderOverview(commands, program));
      return EXIT.OK;
    }
    if (first === '--version' || first === '-v') {
      io.out(version());
      return EXIT.OK;
    }
    if (first === 'help') {
      if (argv.length === 1) {
        io.out(renderOverview(commands, program));
        return EXIT.OK;
      }
      const { cmd, path: words } = resolveCommand(commands, argv.slice(1));
      io.out(renderHelp(cmd, words.join(' '), program));
      return EXIT.OK;
    }
    if (first.startsWith('-'))
      throw new UsageError(
        `unknown option ${first}${didYouMean(first.replace(/^-+/, ''), ['help', 'version'], '--') || '; command options go after the command'}`,
      );
    const { cmd, path: words, rest } = resolveCommand(commands, argv);
    path = words.join(' ');
    if (wantsHelp(rest)) {
      io.out(renderHelp(cmd, path, program));
      return EXIT.OK;
    }
    if (!cmd.run)
      throw new UsageError(
        `needs a subcommand: ${(cmd.subcommands ?? []).map((s) => s.name).join(' or ')}`,
      );
    const code = await cmd.run(parseCommandLine(cmd, rest));
    return code ?? EXIT.OK;
  } catch (error) {
    const where = (error as { path?: string }).path ?? path;
    io.err(failureText(error, where, program));
    return exitCodeFor(error, where.split(' ')[0] || undefined);
  }
}
