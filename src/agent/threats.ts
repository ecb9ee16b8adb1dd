import {
  BadVersionError,
  DownloadHTTPError,
  DownloadLengthMismatchError,
  ExpiredMetadataError,
  RuntimeError,
} from 'tuf-js/dist/error.js';
import { UnreachableError } from '../net/unreachable.js';

// Refusals named after the threat they stop (TUF spec section 1.5's attack list), decided by the
// error's class, as tuf-js names them. Two classes live in @tufjs/models, which tuf-js does not
// re-export: those are matched by class name, still a class and not a message.

const TAMPERED =
  'tampered artifact (arbitrary software attack): hash or length does not match the signed metadata';
const ENDLESS = 'endless data attack: the download exceeds the signed length';
const FREEZE = 'freeze attack: the server offered expired metadata';
const ROLLBACK = 'rollback attack: the server offered older metadata than already trusted';
const SIGNATURE = 'bad signature: metadata not signed by the keys that are trusted for it';
const UNREACHABLE = 'server unreachable';
const SERVER = 'server error';

function byClass(error: unknown): string | undefined {
  if (error instanceof DownloadLengthMismatchError) return ENDLESS;
  if (error instanceof ExpiredMetadataError) return FREEZE;
  if (error instanceof BadVersionError) return ROLLBACK;
  if (error instanceof DownloadHTTPError) return SERVER;
  if (error instanceof UnreachableError) return UNREACHABLE;
  const name = error instanceof Error ? error.constructor.name : '';
  if (name === 'LengthOrHashMismatchError') return TAMPERED;
  if (name === 'UnsignedMetadataError') return SIGNATURE;
  return undefined;
}

/**
 * tuf-js turns some failures into a RuntimeError that keeps only the inner error's text ("Unable to
 * load snapshot metadata error …"): for those alone, the text is all there is to read.
 */
function byWrappedText(text: string): string | undefined {
  const rules: Array<[RegExp, string]> = [
    [/LengthOrHashMismatch|length mismatch|hash/i, TAMPERED],
    [/ExpiredMetadata|is expired/i, FREEZE],
    [
      /less than current version|does not match snapshot version|doesn't match timestamp|Expected version/i,
      ROLLBACK,
    ],
    [/UnsignedMetadata|signed by|signature/i, SIGNATURE],
    [/unreachable|ECONNREFUSED|fetch failed/i, UNREACHABLE],
    [/HTTP [45]\d\d/i, SERVER],
  ];
  return rules.find(([pattern]) => pattern.test(text))?.[1];
}

/** One line naming the threat, for the agent's log. */
export function describeRefusal(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  let threat: string | undefined;
  for (
    let e: unknown = error, depth = 0;
    e && depth < 5 && !threat;
    e = (e as { cause?: unknown }).cause, depth++
  )
    threat = byClass(e);
  if (!threat && error instanceof RuntimeError) threat = byWrappedText(message);
  return `${threat ?? 'refused'} (${message.replace(/\s+/g, ' ').slice(0, 200)})`;
}
