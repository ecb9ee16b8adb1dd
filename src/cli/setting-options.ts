import { readConfigJson } from './args.js';
import { UsageError } from './errors.js';
import type { OptionSpec } from './spec.js';
import { ConfigError, type Settings } from '../config/settings.js';

/**
 * The command-line face of a settings schema (src/config/settings.ts): one flag per setting (secrets
 * excepted: environment or --config only), in the schema's order, with its default, variable and
 * description, so help and schema cannot drift; and the --config and --print-config options.
 */
export function settingOptions<Name extends string, Config>(
  settings: Settings<Name, Config>,
): Record<string, OptionSpec> {
  const options: Record<string, OptionSpec> = {};
  for (const name of settings.names) {
    const { flag, env, arg, multiple } = settings.sources[name];
    if (!flag) continue;
    const fallback = settings.defaultText(name);
    options[flag] = {
      type: 'string',
      arg,
      description: settings.description(name) + (multiple ? ' (repeatable)' : ''),
      ...(fallback !== undefined ? { default: fallback } : {}),
      ...(env ? { env } : {}),
      ...(multiple ? { multiple: true } : {}),
      ...(settings.required(name) ? { required: true } : {}),
    };
  }
  return options;
}

/** `--config FILE` and `--print-config`; `example` is a setting as a --config file holds it. */
export function configFileOptions(example: string): {
  config: OptionSpec & { type: 'string' };
  'print-config': OptionSpec & { type: 'boolean' };
} {
  return {
    config: {
      type: 'string',
      arg: 'FILE',
      description: `read settings from a JSON file ({${example}, …}, names in docs/configuration.md); flags win over it, it wins over the environment`,
    },
    'print-config': {
      type: 'boolean',
      description: 'print the settings as resolved (secrets redacted) as JSON, and exit',
    },
  };
}

/**
 * The settings from the command line, a --config file and the environment, validated; a refusal is a
 * usage error (one line, exit 64) naming the flag, variable or file key.
 */
export function resolveSettings<Name extends string, Config>(
  settings: Settings<Name, Config>,
  given: Record<string, string | boolean | undefined>,
  env: NodeJS.ProcessEnv,
): Config {
  try {
    return settings.resolve({
      flags: given,
      env,
      // A --config file: JSON holding settings by their names in docs/configuration.md.
      ...(typeof given.config === 'string'
        ? { file: { path: given.config, values: readConfigJson(given.config) } }
        : {}),
    });
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}
