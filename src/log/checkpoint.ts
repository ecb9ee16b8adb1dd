import { FairpatchError } from '../errors.js';
import { type Verifier, openNote, signNote } from './note.js';

// C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): origin, tree size, base64 root hash,
// optional extension lines; carried in a signed note.

export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Buffer;
  extensions: string[];
}

const invalid = (message: string): never => {
  throw new FairpatchError('CHECKPOINT_INVALID', message);
};

export function formatCheckpoint(c: {
  origin: string;
  size: number;
  rootHash: Uint8Array;
  extensions?: string[];
}): string {
  if (!c.origin || c.origin.includes('\n')) invalid('origin must be one non-empty line');
  if (!Number.isSafeInteger(c.size) || c.size < 0) invalid('size must be a non-negative integer');
  if (c.rootHash.length !== 32) invalid('root hash must be 32 bytes');
  return [
    c.origin,
    String(c.size),
    Buffer.from(c.rootHash).toString('base64'),
    ...(c.extensions ?? []),
  ]
    .map((l) => `${l}\n`)
    .join('');
}

export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) invalid('checkpoint must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  const [origin, sizeText, rootText, ...extensions] = lines;
  if (!origin) invalid('checkpoint has no origin');
  if (!sizeText || !/^(0|[1-9]\d{0,15})$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText)))
    invalid('tree size must be a decimal without leading zeros');
  const rootHash = Buffer.from(rootText ?? '', 'base64');
  if (rootHash.length !== 32 || rootHash.toString('base64') !== rootText)
    invalid('root hash must be base64 of 32 bytes');
  if (extensions.some((e) => e.length === 0)) invalid('empty extension line');
  return { origin: origin as string, size: Number(sizeText), rootHash, extensions };
}

export function signCheckpoint(
  c: { origin: string; size: number; rootHash: Uint8Array },
  name: string,
  secretKey: Uint8Array | readonly Uint8Array[],
): string {
  return signNote(formatCheckpoint(c), name, secretKey);
}

/** Verifies a signed checkpoint (by any of the trusted log keys) and that it is for the log's origin. */
export function openCheckpoint(
  note: string,
  verifier: Verifier | readonly Verifier[],
  origin = (Array.isArray(verifier) ? verifier[0] : (verifier as Verifier))?.name ?? '',
): Checkpoint {
  const { text } = openNote(note, Array.isArray(verifier) ? verifier : [verifier as Verifier]);
  const checkpoint = parseCheckpoint(text);
  if (checkpoint.origin !== origin)
    invalid(`checkpoint is for ${checkpoint.origin}, not ${origin}`);
  return checkpoint;
}
