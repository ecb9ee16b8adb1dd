import { until } from '../helpers/until.js';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../helpers/cli.js';
import { freshEnv } from '../helpers/doc-run.js';
import type { StartedProcess } from '../helpers/process.js';

const REPO_ROOT = new URL('../..', import.meta.url).pathname;
const SCRIPT = join(REPO_ROOT, 'examples', 'tuf-js-client.mjs');
const run = promisify(execFile);

/** The README's stock client, run from `cwd` (a directory with no node_modules of its own). */
async function client(
  args: string[],
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [SCRIPT, ...args], {
      cwd,
      env: freshEnv({}),
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: Number(e.code ?? 1), stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const oneLine = (text: string) => {
  expect(text, text).not.toMatch(/\n\s+at |TypeError/);
  expect(text.trim().split('\n'), text).toHaveLength(1);
};

// The README's stock-client snippet used to work only from the repository directory (elsewhere:
// `Cannot find module 'tuf-js'` with a stack trace), threw `TypeError … reading 'path'` for a
// target not released yet, and wrote to /tmp/client. examples/tuf-js-client.mjs finds tuf-js in
// this repository from anywhere and says in one line what it got.
describe('examples/tuf-js-client.mjs: a stock tuf-js client, from any directory', () => {
  let dir: string;
  let server: StartedProcess;
  let common: string[];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fairpatch-tufjs-'));
    server = await startServer(
      ['--dev', '--data', join(dir, 'data'), '--keys', join(dir, 'keys')],
      {
        cwd: REPO_ROOT,
      },
    );
    common = [
      '--server',
      server.url,
      '--root',
      join(dir, 'keys', '1.root.json'),
      '--out',
      join(dir, 'client'),
    ];
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('downloads and verifies a released target, from a directory outside the repository', async () => {
    const elsewhere = mkdtempSync(join(dir, 'cwd-'));
    // The dev seed publishes it "out at once": from the next tick on, which may not have come yet.
    const r = await until(
      'the first release to be out',
      async () => {
        const got = await client([...common, 'acme/acme-agent-2.4.1-linux-x64.sh'], elsewhere);
        return got.code === 0 ? got : undefined;
      },
      { timeoutMs: 30_000, everyMs: 200 },
    );
    expect(r.code, r.stderr).toBe(0);
    oneLine(r.stdout);
    expect(r.stdout).toMatch(
      /^acme\/acme-agent-2\.4\.1-linux-x64\.sh: \d+ bytes, sha256 [0-9a-f]{64}, verified/,
    );
    const saved = join(
      dir,
      'client',
      'eu-west',
      'targets',
      'acme',
      'acme-agent-2.4.1-linux-x64.sh',
    );
    expect(readFileSync(saved)).toEqual(
      readFileSync(join(REPO_ROOT, 'manifests', 'artifacts', 'acme-agent-2.4.1-linux-x64.sh')),
    );
  });

  it('says in one line that a target not released yet is not there (exit 1), for any group', async () => {
    // The emergency fix is scheduled minutes after the seed: not a target yet.
    const r = await client(
      [...common, '--group', 'us-east', 'acme/acme-agent-2.4.2-linux-x64.sh'],
      dir,
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    oneLine(r.stderr);
    expect(r.stderr).toMatch(/not in the metadata served to us-east: not released yet/);
    expect(existsSync(join(dir, 'client', 'us-east', 'targets', 'acme'))).toBe(false);
  });

  it('an unreachable node or a missing root is one line too', async () => {
    const down = await client(
      [
        '--server',
        'http://127.0.0.1:9',
        '--root',
        join(dir, 'keys', '1.root.json'),
        '--out',
        join(dir, 'c2'),
        'a/b',
      ],
      dir,
    );
    expect(down.code).toBe(1);
    oneLine(down.stderr);
    const noRoot = await client(['--root', join(dir, 'nope.json'), 'a/b'], dir);
    expect(noRoot.code).toBe(1);
    oneLine(noRoot.stderr);
    expect(noRoot.stderr).toMatch(/no trusted root at/);
  });
});
