import { describe, expect, it } from 'vitest';
import { FairpatchError } from '../../src/errors.js';
import { InputFileError, OperationFailed, UsageError } from '../../src/cli/errors.js';
import { EXIT, exitCodeFor } from '../../src/cli/exit-codes.js';
import { failureText } from '../../src/cli/failure.js';
import { editDistance, nearest } from '../../src/cli/nearest.js';
import { UnreachableError, explainFetchFailure } from '../../src/net/unreachable.js';
import { AgentKeyError, RollbackAttackError } from '../../src/agent/errors.js';
import { NotFoundError, ServerUnavailableError } from '../../src/net/errors.js';

describe('exit codes, from one mapping', () => {
  const cases: Array<[string, unknown, number, number]> = [
    ['a usage error', new UsageError('--server is required'), EXIT.USAGE, EXIT.USAGE],
    [
      'a missing file',
      new InputFileError('--root x: no such file'),
      EXIT.NO_INPUT,
      EXIT.CANNOT_VERIFY,
    ],
    [
      'a raw ENOENT',
      Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT', path: '/x' }),
      EXIT.NO_INPUT,
      EXIT.CANNOT_VERIFY,
    ],
    [
      'an unreachable server',
      new UnreachableError('http://h', 'connection refused', 'is the server running?'),
      EXIT.UNAVAILABLE,
      EXIT.CANNOT_VERIFY,
    ],
    [
      'a 4xx refusal',
      new FairpatchError('SIGNATURE_INVALID', 'bad'),
      EXIT.FAILED,
      EXIT.CANNOT_VERIFY,
    ],
    [
      'a 5xx from the server',
      new FairpatchError('NOT_READY', 'catching up'),
      EXIT.UNAVAILABLE,
      EXIT.CANNOT_VERIFY,
    ],
    [
      'a failed operation',
      new OperationFailed('port 8080 is in use'),
      EXIT.FAILED,
      EXIT.CANNOT_VERIFY,
    ],
    [
      'a corrupt agent.key',
      new AgentKeyError('/s/agent.key', 'does not hold an agent key'),
      EXIT.NO_INPUT,
      EXIT.CANNOT_VERIFY,
    ],
    [
      'a 5xx answer, seen by a client',
      new ServerUnavailableError('/log/checkpoint', 503),
      EXIT.UNAVAILABLE,
      EXIT.CANNOT_VERIFY,
    ],
    ['a 404 answer', new NotFoundError('/x', 404), EXIT.FAILED, EXIT.CANNOT_VERIFY],
    ['an agent refusal', new RollbackAttackError('older'), EXIT.FAILED, EXIT.CANNOT_VERIFY],
    [
      'a bug',
      new TypeError("Cannot read properties of undefined (reading 'x')"),
      EXIT.BUG,
      EXIT.CANNOT_VERIFY,
    ],
  ];
  for (const [name, error, code, auditCode] of cases) {
    it(`${name}: ${code}, and ${auditCode} for audit`, () => {
      expect(exitCodeFor(error, 'publish')).toBe(code);
      expect(exitCodeFor(error, 'audit')).toBe(auditCode);
    });
  }

  it('expected failures are one line; only a bug prints its stack, and says it is a bug', () => {
    expect(
      failureText(new UsageError('unknown option --sever; did you mean --server?'), 'publish'),
    ).toBe(
      'fairpatch publish: unknown option --sever; did you mean --server? (see fairpatch publish --help)',
    );
    expect(
      failureText(new FairpatchError('UNAUTHORIZED', 'unknown or revoked token'), 'publish'),
    ).toBe(
      'fairpatch publish: unknown or revoked token; check --token (or FAIRPATCH_TOKEN) [UNAUTHORIZED]',
    );
    const bug = failureText(new TypeError('x is undefined'), 'publish');
    expect(bug).toMatch(/^fairpatch publish: unexpected error; this is a bug in fairpatch/);
    expect(bug).toMatch(/\n\s+at /);
  });

  it('explains why a fetch failed', () => {
    const refused = Object.assign(new TypeError('fetch failed'), {
      cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    });
    expect(explainFetchFailure('http://127.0.0.1:9/api/v1/x', refused).message).toBe(
      'cannot reach http://127.0.0.1:9: connection refused; is the server running?',
    );
    const unknown = Object.assign(new TypeError('fetch failed'), {
      cause: Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }),
    });
    expect(explainFetchFailure('http://nowhere.invalid/x', unknown).message).toMatch(
      /unknown host nowhere\.invalid; check the server URL/,
    );
    const timeout = Object.assign(new Error('The operation was aborted due to timeout'), {
      name: 'TimeoutError',
    });
    expect(explainFetchFailure('http://h/x', timeout, 15_000).message).toMatch(
      /no answer within 15 s/,
    );
  });

  it('suggests the nearest word only when it is close', () => {
    expect(editDistance('prot', 'port')).toBe(1);
    expect(nearest('sever', ['server', 'state'])).toBe('server');
    expect(nearest('prot', ['port', 'host'])).toBe('port');
    expect(nearest('zzzzzz', ['server', 'state'])).toBeUndefined();
  });
});
