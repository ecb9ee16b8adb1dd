import {
  BadVersionError,
  DownloadHTTPError,
  DownloadLengthMismatchError,
  ExpiredMetadataError,
  RepositoryError,
  RuntimeError,
  ValueError,
} from 'tuf-js/dist/error.js';
import { ClientError, httpFailure } from '../net/errors.js';
import {
  BadSignatureError,
  EndlessDataError,
  FreezeAttackError,
  MetadataRefusedError,
  RollbackAttackError,
  TamperedError,
} from './errors.js';

// tuf-js's failures, turned into the agent's coded refusals (src/agent/errors.ts) by class alone,
// as tuf-js names them. Two classes live in @tufjs/models, which tuf-js does not re-export (and
// this project does not depend on directly): those are matched by class name, still a class.

/** The agent log's words for each code: what was refused and why. */
const LINES: Record<string, string> = {
  TAMPERED:
    'tampered artifact (arbitrary software attack): hash or length does not match the signed metadata',
  ENDLESS_DATA: 'endless data attack: the download exceeds the signed length',
  FREEZE: 'freeze attack: the server offered expired metadata',
  ROLLBACK: 'rollback attack: the server offered older metadata than already trusted',
  BAD_SIGNATURE: 'bad signature: metadata not signed by the keys that are trusted for it',
  UNREACHABLE: 'server unreachable',
  SERVER_UNAVAILABLE: 'server unavailable (it failed or is overloaded)',
  NOT_FOUND: 'not found on the server',
  SERVER_REFUSED: 'server refused',
  ANSWER_TOO_LARGE: 'endless data attack: the answer exceeds what can be used',
  TARGET_UNKNOWN: 'not a target',
};

/** One tuf-js error (not its causes) as a coded refusal, or undefined for one it does not name. */
function codedFrom(error: unknown, message: string): ClientError | undefined {
  const options = { cause: error };
  if (error instanceof ClientError) return error;
  if (error instanceof DownloadLengthMismatchError) return new EndlessDataError(message, options);
  if (error instanceof ExpiredMetadataError) return new FreezeAttackError(message, options);
  if (error instanceof BadVersionError) return new RollbackAttackError(message, options);
  if (error instanceof DownloadHTTPError) {
    const url = (error as { url?: unknown }).url;
    return httpFailure(typeof url === 'string' ? url : 'the repository', error.statusCode, options);
  }
  const name = error instanceof Error ? error.constructor.name : '';
  if (name === 'LengthOrHashMismatchError') return new TamperedError(message, options);
  if (name === 'UnsignedMetadataError') return new BadSignatureError(message, options);
  return undefined;
}

/**
 * The coded refusal for what tuf-js threw. `inner` is the failure tuf-js flattened into a
 * RuntimeError's text ("Unable to load snapshot metadata error …", which drops the cause): the
 * updater (src/agent/updater.ts) records it, so the class decides there too, never the text.
 * An error no rule names (a bug) is returned as it is.
 */
export function refusalOf(error: unknown, inner?: unknown): unknown {
  const message = error instanceof Error ? error.message : String(error);
  for (
    let e: unknown = error, depth = 0;
    e && depth < 5;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    const coded = codedFrom(e, message);
    if (coded) return coded;
  }
  if (error instanceof RuntimeError) {
    const coded = inner === undefined ? undefined : codedFrom(inner, message);
    return coded ?? new MetadataRefusedError(message, { cause: inner ?? error });
  }
  if (error instanceof RepositoryError || error instanceof ValueError)
    return new MetadataRefusedError(message, { cause: error });
  return error;
}

/** One line naming the threat (or the failure), for the agent's log. */
export function describeRefusal(error: unknown): string {
  const coded = refusalOf(error);
  const message = error instanceof Error ? error.message : String(error);
  const line = coded instanceof ClientError ? LINES[coded.code] : undefined;
  return `${line ?? 'refused'} (${message.replace(/\s+/g, ' ').slice(0, 200)})`;
}
