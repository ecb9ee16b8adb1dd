import { statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { InputFileError } from './errors.js';

/**
 * Checks a file the user named before anything reads it, so a wrong path is one line naming the
 * flag and the path (and what usually creates it), not an ENOENT stack from deep inside.
 */
export function inputFile(path: string, label: string, hint = ''): string {
  const full = resolve(path);
  const stat = statSync(full, { throwIfNoEntry: false });
  if (!stat) throw new InputFileError(`${label} ${path}: no such file${hint ? `; ${hint}` : ''}`);
  if (!stat.isFile()) throw new InputFileError(`${label} ${path} is not a file`);
  return full;
}

/** The same for a directory that must already exist. */
export function inputDir(path: string, label: string, hint = ''): string {
  const full = resolve(path);
  const stat = statSync(full, { throwIfNoEntry: false });
  if (!stat?.isDirectory())
    throw new InputFileError(`${label} ${path}: no such directory${hint ? `; ${hint}` : ''}`);
  return full;
}

/** Writes a command's result to `--out FILE` when given, else to stdout. */
export function writeOutput(text: string, out: string | undefined): void {
  if (out) writeFileSync(out, text);
  else process.stdout.write(text);
}
