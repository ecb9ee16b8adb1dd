import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';

/**
 * Directories and files that hold pending releases, tokens or state: readable by their owner only,
 * whatever the umask. `mode` on creation alone is not enough (the umask can narrow it, and an existing
 * directory keeps its mode), so the mode is set explicitly too.
 */
export function privateDir(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  chmodSync(path, 0o700);
  return path;
}

/** Creates `path` empty with mode 0600 if it is missing, and narrows it to 0600 if it exists. */
export function privateFile(path: string): string {
  closeSync(openSync(path, 'a', 0o600));
  chmodSync(path, 0o600);
  return path;
}
