/**
 * A command is described once, as data: its help (`--help`, `-h`, `fairpatch help CMD`, the
 * top-level list), its parser and its defaults all come from this description, so they cannot
 * drift apart.
 */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's placeholder in help: URL, FILE, DIR, N. */
  arg?: string;
  description: string;
  /** Used when neither the flag, the config file nor `env` gives a value; shown in help. */
  default?: string;
  /** An environment variable read when the flag is absent. */
  env?: string;
  required?: boolean;
  /** May be given several times; the command sees the values joined by commas (also accepted as is). */
  multiple?: boolean;
}

export type Options = Record<string, OptionSpec>;

export interface PositionalSpec {
  name: string;
  description: string;
  optional?: boolean;
}

/** Option values as the command sees them: a default or `required` makes a string option always present. */
export type Values<O extends Options> = {
  [K in keyof O]: O[K] extends { type: 'boolean' }
    ? boolean
    : O[K] extends { required: true } | { default: string }
      ? string
      : string | undefined;
};

export interface Parsed<O extends Options> {
  values: Values<O>;
  positionals: string[];
  /**
   * Only what the command line itself said, by option name (a repeated option joined by commas):
   * for a command that puts its settings together itself (serve, src/server/config.ts).
   */
  given: Record<string, string | boolean | undefined>;
}

/** Exit status, or nothing for success. */
export type RunResult = Promise<number | void>;

export interface Command {
  name: string;
  summary: string;
  /** Who runs it, shown in the command list. */
  who?: string;
  positionals?: PositionalSpec[];
  options?: Options;
  /** Options may also come from a JSON file given with --config FILE; flags win. */
  config?: boolean;
  /**
   * Puts its settings together itself from `given` (a settings schema, src/cli/setting-options.ts:
   * flag > --config > environment > default, validated as a whole): the parser leaves a missing
   * required option to it, for its --config file may give that setting.
   */
  resolvesSettings?: boolean;
  examples: string[];
  notes?: string[];
  /**
   * Imports its heavy modules itself (`await import`), so help, --version and usage errors do not
   * load the server, the database drivers or tuf-js: they answer in a fraction of the time.
   */
  run?: (parsed: Parsed<Options>) => RunResult;
  subcommands?: Command[];
}

/** Declares a command with its run function typed by its own options. */
export function command<const O extends Options>(
  spec: Omit<Command, 'options' | 'run'> & { options?: O; run?: (parsed: Parsed<O>) => RunResult },
): Command {
  return spec as unknown as Command;
}

const HELP: OptionSpec = { type: 'boolean', short: 'h', description: 'show this help' };
const CONFIG: OptionSpec = {
  type: 'string',
  arg: 'FILE',
  description: 'read options from a JSON file ({"server": …}); flags win',
};

/** The options a command accepts, including the ones every command gets. */
export function allOptions(cmd: Command): Options {
  return { ...cmd.options, ...(cmd.config ? { config: CONFIG } : {}), help: HELP };
}
