import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProcess } from './process.js';

const REPO_ROOT = new URL('../..', import.meta.url).pathname;

/** This run's environment without DATABASE_URL: the previous release keeps to SQLite in its data dir. */
const withoutDatabaseUrl = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'DATABASE_URL'));

/** Runs the previous release's own CLI. */
function run(cli: string, args: string[], cwd: string): string {
  return execFileSync(process.execPath, [cli, ...args], {
    cwd,
    env: withoutDatabaseUrl(),
    encoding: 'utf8',
    timeout: 60_000,
  });
}

/**
 * A data directory written by a previous release, made here and now by that release's own code:
 * its source from this repository's history (`git archive`), built with this checkout's
 * node_modules, then its `serve --dev` (the examples published), its CLI declaring two groups and
 * halting libquill 3.8.2 (due one lead time later), and SIGTERM. Made per run, so no key of it is
 * ever committed. A clone without that history cannot run the upgrade test: it fails, saying so.
 */
export async function previousReleaseData(commit: string): Promise<{
  dataDir: string;
  keysDir: string;
  /** When the halt staged there takes effect (ms): a node opening the data after it serves it. */
  haltEffectiveAt: number;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'fairpatch-previous-'));
  const src = join(dir, 'src');
  mkdirSync(src);
  try {
    execFileSync(
      'sh',
      ['-c', `git -C "${REPO_ROOT}" archive --format=tar ${commit} | tar -x -C "${src}"`],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
  } catch (error) {
    throw new Error(
      `the previous release (commit ${commit}) is not in this clone's history, which the upgrade test builds it from: clone with history (${(error as Error).message})`,
    );
  }
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(src, 'node_modules'));
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    cwd: src,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const cli = join(src, 'dist', 'cli', 'main.js');
  const dataDir = join(dir, 'data');
  const keysDir = join(dir, 'keys');
  const server = await startProcess(
    [
      cli,
      'serve',
      '--dev',
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--workers',
      '1',
      '--data',
      dataDir,
      '--keys',
      keysDir,
    ],
    { cwd: src, env: withoutDatabaseUrl(), timeoutMs: 60_000 },
  );
  try {
    const operator = readFileSync(join(dataDir, 'operator.token'), 'utf8').trim();
    run(
      cli,
      ['groups', 'declare', 'eu-west,us-east', '--server', server.url, '--token', operator],
      src,
    );
    const tokens = JSON.parse(readFileSync(join(keysDir, 'tokens.json'), 'utf8')) as {
      quill: string;
    };
    const haltEffectiveAt = Date.now() + 30_000;
    run(
      cli,
      [
        'halt',
        'quill',
        '3.8.2',
        '--product',
        'libquill',
        '--server',
        server.url,
        '--key',
        join(keysDir, 'quill.key'),
        '--token',
        tokens.quill,
      ],
      src,
    );
    return { dataDir, keysDir, haltEffectiveAt: haltEffectiveAt + 2_000 };
  } finally {
    await server.stop();
  }
}
