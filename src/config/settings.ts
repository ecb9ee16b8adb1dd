import { z } from 'zod';
import { DURATION, RATE, SIZE } from './values.js';

/**
 * What every settings schema (the node's src/server/config.ts, the witness's src/witness/config.ts)
 * is given the same way: where each setting may come from, its default and description as help and
 * docs/configuration.md show them, the precedence of its sources, and one-line refusals. A command's
 * schema declares its settings; this turns the declaration into all of that.
 */

/** Where a setting may come from, besides a --config file (which takes every setting by its name). */
export interface SettingSource {
  /** The command's flag, without `--`; null for secrets (environment or file only). */
  flag: string | null;
  env: string | null;
  /** The value's placeholder in help. */
  arg: string;
  /** A flag given several times adds up (the values joined by commas). */
  multiple?: boolean;
}

export interface ConfigSources {
  /** What the command line said, by flag name (without `--`); a repeated flag joined by commas. */
  flags?: Record<string, string | boolean | undefined>;
  env?: Record<string, string | undefined>;
  /** The parsed JSON of a --config file, and its path (for messages). */
  file?: { path: string; values: unknown };
}

/** A setting that is malformed; the message names where it came from and what it should be. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface SettingsSpec<Shape extends Record<string, z.ZodType>, Schema extends z.ZodType> {
  /** Each setting's value kind (src/config/values.ts), `.prefault(default)` and `.describe(meaning)`. */
  shape: Shape;
  /** The shape as a strict object (unknown names refused), with any checks across settings. */
  schema: Schema;
  /** A setting's variable unless named otherwise: this prefix and its flag in capitals. */
  envPrefix: string;
  /** Flag `--max-foo-bar` and variable `<prefix>MAX_FOO_BAR` for `maxFooBarMs`, except where named here. */
  differing?: { [Name in keyof Shape]?: Partial<SettingSource> };
}

export interface Settings<Name extends string, Config> {
  /** The settings in the schema's order (the order of help and of the docs' table). */
  names: readonly Name[];
  sources: Readonly<Record<Name, SettingSource>>;
  /** The default as written (`30s`, `4MiB`), or undefined when the setting has none. */
  defaultText(name: Name): string | undefined;
  /** True when the setting has no default and must be given. */
  required(name: Name): boolean;
  description(name: Name): string;
  /**
   * Validates settings; every refusal is one line naming the setting as its source called it (a
   * flag, an environment variable, a key of a config file) and what it should be.
   */
  parse(input: Record<string, unknown>, labels?: Partial<Record<string, string>>): Config;
  /**
   * Puts the settings together: a flag beats the --config file, which beats the environment, which
   * beats the default (the precedence every fairpatch command uses). The result is validated as a
   * whole; a refusal names the flag, variable or file key that was wrong.
   */
  resolve(sources: ConfigSources): Config;
}

const kebab = (name: string) =>
  name.replace(/Ms$/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

const argByKind = (name: string): string =>
  name.endsWith('Ms')
    ? 'DURATION'
    : name.endsWith('Bytes')
      ? 'SIZE'
      : name.endsWith('PerSecond')
        ? 'RATE'
        : 'N';

function describeValue(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(JSON.stringify(value));
}

export function defineSettings<
  Shape extends Record<string, z.ZodType>,
  Schema extends z.ZodType<unknown, Record<string, unknown>>,
>(spec: SettingsSpec<Shape, Schema>): Settings<keyof Shape & string, z.output<Schema>> {
  type Name = keyof Shape & string;
  const names = Object.keys(spec.shape) as Name[];
  const sources = Object.fromEntries(
    names.map((name) => {
      const differing: Partial<SettingSource> = spec.differing?.[name] ?? {};
      const flag = differing.flag === undefined ? kebab(name) : differing.flag;
      const env = (flag ?? kebab(name)).toUpperCase().replace(/-/g, '_');
      const source: SettingSource = {
        flag,
        env: differing.env === undefined ? `${spec.envPrefix}${env}` : differing.env,
        arg: differing.arg ?? argByKind(name),
        ...(differing.multiple ? { multiple: true } : {}),
      };
      return [name, source];
    }),
  ) as Record<Name, SettingSource>;

  const def = (name: Name) =>
    (spec.shape[name] as z.ZodType)._zod.def as { type: string; defaultValue?: unknown };

  const defaultText = (name: Name): string | undefined => {
    const d = def(name);
    if (d.type !== 'prefault') return undefined;
    const value = d.defaultValue;
    return Array.isArray(value) ? (value.length ? value.join(',') : undefined) : String(value);
  };

  const required = (name: Name): boolean => !['prefault', 'optional'].includes(def(name).type);

  /** What a setting of this name expects, for a value of the wrong JSON type. */
  const expectation = (name: Name): string => {
    const source = sources[name];
    if (source?.arg === 'DURATION') return DURATION;
    if (source?.arg === 'SIZE') return SIZE;
    if (source?.arg === 'RATE') return RATE;
    if (source?.arg === 'N') return 'a positive integer';
    if (source?.multiple) return 'a list of http(s) URLs';
    return 'a string';
  };

  /** Where a missing setting may be given, for its refusal. */
  const whereToGive = (name: Name): string => {
    const { flag, env } = sources[name];
    const elsewhere = [env ? `set ${env}` : '', `"${name}" in the --config file`].filter(Boolean);
    return `${flag ? `--${flag}` : name} is required (or ${elsewhere.join(', or ')})`;
  };

  const parse = (
    input: Record<string, unknown>,
    labels: Partial<Record<string, string>> = {},
  ): z.output<Schema> => {
    const result = spec.schema.safeParse(input);
    if (result.success) return result.data;
    const issue = result.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0] ?? '';
      throw new ConfigError(
        `${labels[key] ?? key}: unknown setting; known ones are listed in docs/configuration.md`,
      );
    }
    const key = String(issue.path[0] ?? '');
    if (input[key] === undefined && names.includes(key as Name) && required(key as Name))
      throw new ConfigError(whereToGive(key as Name));
    const label = labels[key] ?? key;
    const expected = issue.message.startsWith('must ')
      ? issue.message
      : `must be ${expectation(key as Name)}`;
    // A message that already quotes the value does not repeat it.
    const value = key in input ? describeValue(input[key]) : undefined;
    const given = value && !expected.includes(value) ? `, not ${value}` : '';
    throw new ConfigError(`${label} ${expected}${given}`);
  };

  const resolve = (from: ConfigSources): z.output<Schema> => {
    const input: Record<string, unknown> = {};
    const labels: Record<string, string> = {};
    const set = (name: string, value: unknown, label: string) => {
      input[name] = value;
      labels[name] = label;
    };
    for (const name of names) {
      const { env } = sources[name];
      const fromEnv = env ? from.env?.[env] : undefined;
      if (env && fromEnv !== undefined && fromEnv !== '') set(name, fromEnv, env);
    }
    const file = from.file;
    if (file) {
      const values = file.values;
      if (!values || typeof values !== 'object' || Array.isArray(values))
        throw new ConfigError(`--config ${file.path} must hold a JSON object of settings`);
      // Refused here, by name: copied into `input`, a `__proto__` key (JSON.parse makes it an own
      // key) would set input's prototype, slip past the strict schema and lend it its settings.
      for (const [name, value] of Object.entries(values)) {
        if (!(names as readonly string[]).includes(name))
          throw new ConfigError(
            `--config ${file.path}: "${name}": unknown setting; known ones are listed in docs/configuration.md`,
          );
        set(name, value, `--config ${file.path}: "${name}"`);
      }
    }
    for (const name of names) {
      const { flag } = sources[name];
      const fromFlag = flag ? from.flags?.[flag] : undefined;
      if (typeof fromFlag === 'string') set(name, fromFlag, `--${flag}`);
    }
    return parse(input, labels);
  };

  return {
    names,
    sources,
    defaultText,
    required,
    description: (name) => spec.shape[name]?.description ?? '',
    parse,
    resolve,
  };
}
