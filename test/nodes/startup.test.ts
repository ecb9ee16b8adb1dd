import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateRepositoryKeys } from '../../src/keys/keygen.js';
import { cli } from '../helpers/cli.js';

/** A port nothing listens on: bound for a moment by us, then released. */
async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('start-up names the real cause in one line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fairpatch-startup-'));
  generateRepositoryKeys({ dir: join(dir, 'keys'), now: Date.now() });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the database is down: non-zero exit, ECONNREFUSED and the address, no stack trace', async () => {
    const port = await closedPort();
    const result = await cli(
      ['serve', '--port', '0', '--data', join(dir, 'data'), '--keys', join(dir, 'keys')],
      { env: { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/fairpatch` } },
    );
    expect(result.code).not.toBe(0);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`ECONNREFUSED 127.0.0.1:${port}`);
    expect(lines[0]).toMatch(/^fairpatch serve: .*\[DATABASE_UNAVAILABLE\]$/);
    expect(result.stdout).not.toContain('serving on');
  });

  it('the data directory cannot be written: non-zero exit, one line naming the path', async () => {
    const blocker = join(dir, 'not-a-directory');
    writeFileSync(blocker, '');
    const result = await cli([
      'serve',
      '--port',
      '0',
      '--data',
      join(blocker, 'data'),
      '--keys',
      join(dir, 'keys'),
    ]);
    expect(result.code).not.toBe(0);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^fairpatch /);
    expect(lines[0]).not.toMatch(/\n\s+at /);
    expect(lines[0]).toContain(join(blocker, 'data'));
  });
});
