import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer } from '../helpers/cli.js';
import { until } from '../helpers/until.js';

const REPO_ROOT = new URL('../..', import.meta.url).pathname;
/** Targets are served under consistent-snapshot names, `<vendor>/<sha256>.<file>` (TUF spec 5.7.3). */
const targetUrl = (base: string, file: string): string =>
  `${base}/targets/acme/${createHash('sha256')
    .update(readFileSync(join(REPO_ROOT, 'manifests/artifacts', file)))
    .digest('hex')}.${file}`;

describe('npm start on a fresh data directory', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  // The dev seed once read the clock before registering vendors and storing blobs, then checked the
  // release time against a later reading: it failed whenever a second boundary fell in between.
  it('starts, seeds the examples and serves the first release, ten times out of ten', async () => {
    for (let run = 0; run < 10; run++) {
      const dir = mkdtempSync(join(tmpdir(), 'fairpatch-start-'));
      dirs.push(dir);
      const server = await startServer(
        ['--dev', '--data', join(dir, 'data'), '--keys', join(dir, 'keys')],
        { cwd: REPO_ROOT },
      );
      try {
        const output = server.output();
        expect(output, output).toMatch(/published acme-agent-2\.4\.1\.json \(live from /);
        expect(output).toMatch(/published zz-acme-agent-2\.4\.2-emergency\.json/);
        expect(output).not.toMatch(/RELEASE_TOO_SOON|Error/);
        // "Out at once" means from the next tick on: bounded wait, never a fixed sleep.
        await until('the first release served', async () => {
          const response = await fetch(targetUrl(server.url, 'acme-agent-2.4.1-linux-x64.sh'));
          await response.arrayBuffer();
          return response.status === 200;
        });
        const held = await fetch(targetUrl(server.url, 'acme-agent-2.4.2-linux-x64.sh'));
        await held.arrayBuffer();
        expect(held.status).toBe(404);
      } finally {
        await server.stop();
      }
    }
  }, 180_000);
});
