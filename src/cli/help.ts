import { EXIT_TABLE } from './exit-codes.js';
import { type Command, type OptionSpec, allOptions } from './spec.js';

const pad = (rows: Array<[string, string]>): string[] => {
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`.trimEnd());
};

function flag(name: string, spec: OptionSpec): string {
  return `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.type === 'string' ? ` ${spec.arg ?? 'VALUE'}` : ''}`;
}

function describe(spec: OptionSpec): string {
  const facts = [
    spec.required ? 'required' : '',
    spec.default !== undefined ? `default ${spec.default}` : '',
    spec.env ? `env ${spec.env}` : '',
  ].filter(Boolean);
  return facts.length ? `${spec.description} (${facts.join('; ')})` : spec.description;
}

/** The synopsis line: positionals, required options, then the rest as [options]. */
export function usageLine(cmd: Command, path: string, program = 'fairpatch'): string {
  if (!cmd.run)
    return `${program} ${path} <${(cmd.subcommands ?? []).map((s) => s.name).join('|')}> …`;
  const positionals = (cmd.positionals ?? []).map((p) => (p.optional ? `[${p.name}]` : p.name));
  const required = Object.entries(cmd.options ?? {})
    .filter(([, spec]) => spec.required)
    .map(([name, spec]) => `--${name} ${spec.arg ?? 'VALUE'}`);
  return [program, path, ...positionals, ...required, '[options]'].join(' ');
}

/**
 * `fairpatch CMD --help`, `-h` and `fairpatch help CMD` all print this. `program` is the name the
 * user typed (the agent's own executable is `fairpatch-agent`): usage lines and examples say it.
 */
export function renderHelp(cmd: Command, path: string, program = 'fairpatch'): string {
  const out = [
    `Usage: ${usageLine(cmd, path, program)}`,
    '',
    `${cmd.summary[0]?.toUpperCase()}${cmd.summary.slice(1)}${cmd.who ? ` (${cmd.who})` : ''}.`,
  ];
  if (cmd.positionals?.length)
    out.push(
      '',
      'Arguments:',
      ...pad(
        cmd.positionals.map((p) => [p.name, p.description + (p.optional ? '' : ' (required)')]),
      ),
    );
  const subs = cmd.subcommands ?? [];
  if (subs.length) out.push('', 'Subcommands:', ...pad(subs.map((s) => [`${s.name}`, s.summary])));
  if (cmd.run)
    out.push(
      '',
      'Options:',
      ...pad(
        Object.entries(allOptions(cmd)).map(([name, spec]) => [flag(name, spec), describe(spec)]),
      ),
    );
  const examples = cmd.examples.length ? cmd.examples : subs.flatMap((s) => s.examples.slice(0, 1));
  out.push(
    '',
    examples.length > 1 ? 'Examples:' : 'Example:',
    ...examples.map((e) => `  ${e.replace(/^(npx )?fairpatch /, `$1${program} `)}`),
  );
  if (cmd.notes?.length) out.push('', ...cmd.notes);
  if (subs.length)
    out.push('', `Run ${program} ${path} ${subs[0]!.name} --help for a subcommand's options.`);
  return out.join('\n');
}

/** `fairpatch`, `fairpatch --help`: every command with its one-line summary. */
export function renderOverview(commands: readonly Command[], program = 'fairpatch'): string {
  const example = commands.find((c) => c.name === 'serve') ?? commands[0];
  return [
    `Usage: ${program} <command> [options]`,
    '',
    'Commands:',
    ...pad([
      ...commands.map((c): [string, string] => [
        c.name,
        `${c.summary}${c.who ? ` (${c.who})` : ''}`,
      ]),
      ['help CMD', "show a command's options and an example"],
    ]),
    '',
    'Options:',
    ...pad([
      ['-h, --help', 'show this help'],
      ['-v, --version', 'print the version'],
    ]),
    '',
    'Example:',
    `  ${program} ${example?.name === 'serve' ? 'serve --dev' : `${example?.name ?? 'CMD'} --help`}`,
    '',
    `Run ${program} CMD --help (or ${program} help CMD) for its options, defaults and an example.`,
    '',
    'Exit codes:',
    ...pad(EXIT_TABLE.map(([code, text]) => [String(code), text])),
  ].join('\n');
}
