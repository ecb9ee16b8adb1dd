import { describe, expect, it } from 'vitest';
import {
  BadVersionError,
  DownloadHTTPError,
  ExpiredMetadataError,
  RuntimeError,
} from 'tuf-js/dist/error.js';
import {
  FreezeAttackError,
  MetadataRefusedError,
  RollbackAttackError,
} from '../../src/agent/errors.js';
import { describeRefusal, refusalOf } from '../../src/agent/threats.js';
import { NotFoundError, ServerUnavailableError } from '../../src/net/errors.js';

// tuf-js flattens a failed snapshot or targets load into a RuntimeError that keeps only the inner
// error's text. The refusal is decided by the inner error's class (recorded by the agent's
// updater), never by that text: a role or URL named "hash" or "signature" must not change it.

describe("the agent's refusals, by class", () => {
  it('a flattened failure is the threat of the error recorded under it, whatever its text says', () => {
    const flattened = new RuntimeError(
      'Unable to load targets error: role hash-signature-tools: fetch failed ECONNREFUSED',
    );
    const inner = new BadVersionError('Version 1 of hash-signature-tools does not match 2');
    const refusal = refusalOf(flattened, inner);
    expect(refusal).toBeInstanceOf(RollbackAttackError);
    expect(refusal).toMatchObject({ code: 'ROLLBACK', cause: inner });
    expect(refusalOf(flattened, new ExpiredMetadataError('x'))).toBeInstanceOf(FreezeAttackError);
  });

  it('text alone names no threat: without its inner error a flattened failure is only "refused"', () => {
    const flattened = new RuntimeError(
      'Unable to load snapshot metadata error: length mismatch, hash, signature, HTTP 503',
    );
    expect(refusalOf(flattened)).toBeInstanceOf(MetadataRefusedError);
    expect(describeRefusal(flattened)).toMatch(/^refused \(/);
  });

  it('an HTTP failure keeps its status apart: 5xx unavailable, 404 not found', () => {
    expect(refusalOf(new DownloadHTTPError('x', 503))).toBeInstanceOf(ServerUnavailableError);
    expect(refusalOf(new DownloadHTTPError('x', 404))).toBeInstanceOf(NotFoundError);
    expect(describeRefusal(new DownloadHTTPError('HTTP 502', 502))).toMatch(/^server unavailable/);
  });
});
