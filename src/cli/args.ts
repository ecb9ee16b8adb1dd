import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InputFileError, UsageError } from './errors.js';
import { didYouMean } from './nearest.js';
import { type Command, type Options, type Parsed, allOptions } from './spec.js';

/** `--help` or `-h` anywhere before `--`: help wins over every other check, even a typo'd flag. */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}

/** node's parseArgs advice ("To specify a positional argument…") rewritten as one usage line. */
function usageFrom(cause: unknown, options: Options): UsageError {
  const error = cause as { code?: string; message?: string };
  const message = error.message ?? String(cause);
  const flag = /(--[\w-]+)/.exec(message)?.[1] ?? /'(-\w)/.exec(message)?.[1] ?? '';
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const name = flag.replace(/^-+/, '');
    return new UsageError(`unknown option ${flag}${didYouMean(name, Object.keys(options), '--')}`);
  }
  if (error.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    if (/does not take an argument/.test(message)) return new UsageError(`${flag} takes no value`);
    return new UsageError(`${flag} needs a value`);
  }
  return new UsageError(message.split('\n')[0] ?? message);
}

/** The JSON in a --config file; a missing file or bad JSON is one line naming it. */
export function readConfigJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InputFileError(
      `--config ${path}: ${(error as { code?: string }).code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(`--config ${path} is not valid JSON (${(error as Error).message})`);
  }
}

function readConfig(path: string, options: Options): Record<string, string | boolean> {
  const parsed = readConfigJson(path);
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new UsageError(`--config ${path} must hold a JSON object of options`);
  const out: Record<string, string | boolean> = {};
  for (const [key, value] of Object.entries(parsed)) {
    // Own names only: `__proto__` (an own key once parsed) would find Object.prototype here.
    const spec = Object.hasOwn(options, key) ? options[key] : undefined;
    if (!spec || key === 'config' || key === 'help')
      throw new UsageError(
        `--config ${path}: unknown option "${key}"${didYouMean(key, Object.keys(options))}`,
      );
    if (spec.type === 'boolean' && typeof value !== 'boolean')
      throw new UsageError(`--config ${path}: "${key}" must be true or false`);
    if (spec.type === 'string' && typeof value !== 'string' && typeof value !== 'number')
      throw new UsageError(`--config ${path}: "${key}" must be a string`);
    out[key] = typeof value === 'number' ? String(value) : (value as string | boolean);
  }
  return out;
}

/**
 * node:util parseArgs underneath; on top: usage errors that name the flag and its nearest known
 * spelling, positional checks, then flag > --config file > environment > default, then required.
 */
export function parseCommandLine(cmd: Command, argv: string[]): Parsed<Options> {
  const options = allOptions(cmd);
  const config: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, spec] of Object.entries(options))
    config[name] = {
      type: spec.type,
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.multiple ? { multiple: true } : {}),
    };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: config, allowPositionals: true, strict: true });
  } catch (cause) {
    throw usageFrom(cause, options);
  }
  const expected = cmd.positionals ?? [];
  const extra = parsed.positionals[expected.length];
  if (extra !== undefined) {
    const names = (cmd.subcommands ?? []).map((s) => s.name);
    throw new UsageError(`unexpected argument '${extra}'${didYouMean(extra, names)}`);
  }
  const missing = expected.find((p, i) => !p.optional && !parsed.positionals[i]);
  if (missing) throw new UsageError(`${missing.name} is required`);

  const given = Object.fromEntries(
    Object.entries(parsed.values).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]),
  ) as Record<string, string | boolean | undefined>;
  const fromFile =
    cmd.config && typeof given.config === 'string' ? readConfig(given.config, options) : {};
  const values: Record<string, string | boolean | undefined> = {};
  for (const [name, spec] of Object.entries(options)) {
    if (name === 'config' || name === 'help') continue;
    const fromEnv = spec.env ? process.env[spec.env] || undefined : undefined;
    const value = given[name] ?? fromFile[name] ?? fromEnv ?? spec.default;
    if (spec.type === 'boolean') values[name] = value === true;
    else {
      if (spec.required && !cmd.resolvesSettings && (value === undefined || value === ''))
        throw new UsageError(`--${name} is required${spec.env ? ` (or set ${spec.env})` : ''}`);
      values[name] = value as string | undefined;
    }
  }
  return {
    values: values as Parsed<Options>['values'],
    positionals: parsed.positionals,
    given,
  };
}
