import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  writeSync,
} from 'node:fs';

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

/**
 * Replaces `path` in one step (write a sibling, fsync it, rename over): a crash leaves the old file or
 * the new one, never half of either. The sibling is unique per process, so two writers cannot tear
 * each other's temporary file.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
