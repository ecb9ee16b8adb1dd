import type { OptionSpec } from './spec.js';

/** Options several commands share, described once so their help reads the same everywhere. */

export const SERVER = {
  type: 'string',
  arg: 'URL',
  required: true,
  description: 'the repository node, e.g. http://127.0.0.1:8080',
} as const satisfies OptionSpec;

export const TOKEN = {
  type: 'string',
  arg: 'TOKEN',
  required: true,
  env: 'FAIRPATCH_TOKEN',
  description: 'publisher API token',
} as const satisfies OptionSpec;

export const OPERATOR_TOKEN = {
  ...TOKEN,
  description: 'the operator token (data/operator.token with --dev)',
} as const satisfies OptionSpec;

export const KEYS = {
  type: 'string',
  arg: 'DIR',
  default: 'keys',
  description: 'key directory',
} as const satisfies OptionSpec;

export const VENDOR_KEY = {
  type: 'string',
  arg: 'FILE',
  required: true,
  description: "the vendor's private key (fairpatch keygen --vendor NAME writes it)",
} as const satisfies OptionSpec;

/** Printed as JSON on stdout so scripts can read it; summaries for people go to stderr. */
export const print = (value: unknown): void => console.log(JSON.stringify(value, null, 2));
