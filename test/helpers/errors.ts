import { readFileSync } from 'node:fs';
import { FairpatchError } from '../../src/errors.js';

/** The FairpatchError code `fn` throws, or 'ACCEPTED' when it does not throw (other errors propagate). */
export function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof FairpatchError) return e.code;
    throw e;
  }
  return 'ACCEPTED';
}

/** The RFC 9162 and C2SP signed-note test vectors (public data, kept in test/vectors), used as they are. */
export function loadVectors<T>(): T {
  return JSON.parse(
    readFileSync(new URL('../vectors/merkle-and-note.json', import.meta.url), 'utf8'),
  ) as T;
}
