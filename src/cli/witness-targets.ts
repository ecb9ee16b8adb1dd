import { readFileSync } from 'node:fs';
import { UsageError } from './errors.js';
import { inputFile } from './files.js';
import { serverUrl } from './validate.js';

export interface WitnessTarget {
  url: string;
  /** The witness's C2SP verifier key (`fairpatch keygen --witness NAME` writes NAME.vkey). */
  vkey?: string;
}

/**
 * `--witness URL` (repeatable) with either `--witness-key FILE` given once per witness, in the same
 * order, or the key named inline: `--witness URL=FILE`. The two forms may not be mixed.
 */
export function parseWitnessTargets(
  witnesses: string | undefined,
  keys: string | undefined,
  options: { keyRequired: boolean },
): WitnessTarget[] {
  if (!witnesses) {
    if (keys) throw new UsageError('--witness-key needs --witness');
    return [];
  }
  const items = witnesses.split(',').filter((s) => s.length > 0);
  const keyFiles = keys ? keys.split(',').filter((s) => s.length > 0) : [];
  const inline = items.map((item) => /^(https?:\/\/[^=]+)=(.+)$/.exec(item));
  if (keyFiles.length > 0 && inline.some((m) => m))
    throw new UsageError(
      'name witness keys either as --witness URL=FILE or with --witness-key FILE, not both',
    );
  if (keyFiles.length > 0 && keyFiles.length !== items.length)
    throw new UsageError(
      `${items.length} --witness but ${keyFiles.length} --witness-key: give one key per witness, in the same order`,
    );
  return items.map((item, i) => {
    const m = inline[i];
    const url = serverUrl(m ? (m[1] as string) : item, '--witness');
    const file = m ? m[2] : keyFiles[i];
    if (!file) {
      if (options.keyRequired)
        throw new UsageError(
          `--witness ${url}: its verifier key is needed (--witness ${url}=w1.vkey, or --witness-key w1.vkey)`,
        );
      return { url };
    }
    return {
      url,
      vkey: readFileSync(
        inputFile(file, '--witness-key', 'fairpatch keygen --witness NAME writes NAME.vkey'),
        'utf8',
      ).trim(),
    };
  });
}

/** `--witness-key FILE` given alone: cosigner keys only (the checkpoint's witnesses, not receipt sources). */
export function readKeyFiles(files: string | undefined): string[] {
  return (files ?? '')
    .split(',')
    .filter((f) => f.length > 0)
    .map((f) =>
      readFileSync(
        inputFile(f, '--witness-key', 'fairpatch keygen --witness NAME writes NAME.vkey'),
        'utf8',
      ).trim(),
    );
}
