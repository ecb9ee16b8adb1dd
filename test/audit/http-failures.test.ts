import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit/run.js';
import { fetchWitnessEvidence } from '../../src/audit/witness.js';
import { NotFoundError, ServerUnavailableError } from '../../src/net/errors.js';
import { cli } from '../helpers/cli.js';
import { type Fixture, createFixture, listen, readRoot } from '../helpers/repo.js';

// An audit that cannot verify says what happened: the server failing (5xx) is not something
// missing (404), and neither is a server that cannot be reached. Each keeps its own code; the
// audit's exit status stays 2 (cannot verify) for all of them.

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** A real node behind a front (a proxy, a load balancer) that answers `status` for its checkpoint. */
async function frontedBy(status: 404 | 502 | 503): Promise<{ fx: Fixture; url: string }> {
  const fx = await createFixture();
  cleanup.push(() => fx.close());
  const front = new Hono();
  front.get('/log/checkpoint', (c) => c.text('upstream trouble', status));
  front.all('*', (c) => fx.node.app.fetch(c.req.raw));
  const http = await listen(front);
  cleanup.push(() => http.close());
  return { fx, url: http.url };
}

const auditOf = (fx: Fixture, server: string) =>
  runAudit({
    server,
    stateDir: mkdtempSync(join(tmpdir(), 'fp-audit-')),
    logKey: fx.node.logVerifierKey,
    root: readRoot(fx.keysDir),
    now: fx.clock.now(),
  });

describe('an audit that cannot verify names the failure', () => {
  it('a 5xx is the server failing or unavailable, never NOT_FOUND', async () => {
    for (const status of [502, 503] as const) {
      const { fx, url } = await frontedBy(status);
      const outcome = await auditOf(fx, url);
      expect(outcome).toMatchObject({ exitCode: 2, errorCode: 'SERVER_UNAVAILABLE' });
      expect(outcome.error).toBe(
        `/log/checkpoint: the server failed or is unavailable (HTTP ${status})`,
      );
    }
  });

  it('a 404 is something missing', async () => {
    const { fx, url } = await frontedBy(404);
    expect(await auditOf(fx, url)).toMatchObject({
      exitCode: 2,
      errorCode: 'NOT_FOUND',
      error: '/log/checkpoint: not found (HTTP 404)',
    });
  });

  it('an unreachable server is unreachable', async () => {
    const fx = await createFixture();
    cleanup.push(() => fx.close());
    expect(await auditOf(fx, 'http://127.0.0.1:1')).toMatchObject({
      exitCode: 2,
      errorCode: 'UNREACHABLE',
      error: expect.stringMatching(/^cannot reach http:\/\/127\.0\.0\.1:1: /),
    });
  });

  it('a witness answering 5xx is unavailable, one answering 404 is missing', async () => {
    for (const [status, type] of [
      [503, ServerUnavailableError],
      [404, NotFoundError],
    ] as const) {
      const witness = new Hono();
      witness.all('*', (c) => c.text('no', status));
      const http = await listen(witness);
      cleanup.push(() => http.close());
      await expect(fetchWitnessEvidence(http.url)).rejects.toBeInstanceOf(type);
    }
  });

  it('fairpatch audit prints one line with the code, exit 2', async () => {
    const { fx, url } = await frontedBy(503);
    const result = await cli([
      'audit',
      '--server',
      url,
      '--state',
      mkdtempSync(join(tmpdir(), 'fp-audit-')),
      '--log-key',
      join(fx.keysDir, 'log.vkey'),
      '--root',
      join(fx.keysDir, '1.root.json'),
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      'CANNOT VERIFY: /log/checkpoint: the server failed or is unavailable (HTTP 503) [SERVER_UNAVAILABLE]',
    ]);
  });
});
