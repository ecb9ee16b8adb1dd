import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { type StartedProcess, startProcess } from './process.js';

const run = promisify(execFile);
/** Tests pick their database explicitly: a DATABASE_URL in the environment must not leak into them. */
const baseEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => name !== 'DATABASE_URL'),
);
/** The built CLI, as a user runs it. */
export const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;

/** Runs the built CLI as a user would; resolves with its output whatever the exit code. */
export async function cli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      cwd: options.cwd,
      env: { ...baseEnv, ...options.env },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === 'number' ? e.code : 1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? '',
    };
  }
}

/**
 * Starts `fairpatch serve` as a real process on a free 127.0.0.1 port and waits until it listens.
 * One worker unless `args` say otherwise: a test reading /healthz or counting streams talks to the
 * process it means (test/cli/workers.test.ts runs several).
 */
export function startServer(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; wrapper?: string[] } = {},
): Promise<StartedProcess> {
  const workers = args.includes('--workers') ? [] : ['--workers', '1'];
  return startProcess([CLI, 'serve', '--port', '0', '--host', '127.0.0.1', ...workers, ...args], {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.wrapper ? { wrapper: options.wrapper } : {}),
    env: { ...baseEnv, ...options.env },
    timeoutMs: 20_000,
  });
}

/** One plain line: no stack frames, no second line. */
export function expectOneLine(stderr: string): void {
  expect(stderr, stderr).not.toMatch(/\n\s+at /);
  expect(stderr.trim().split('\n'), stderr).toHaveLength(1);
}

/**
 * Each case of `command … --print-config <args>` (with `env`) is a usage error (exit 64): nothing on
 * stdout, one line on stderr matching its pattern.
 */
export async function expectUsageErrors(
  command: readonly string[],
  cases: ReadonlyArray<readonly [readonly string[], Record<string, string>, RegExp]>,
  cwd: string,
): Promise<void> {
  for (const [args, env, named] of cases) {
    const { code, stdout, stderr } = await cli([...command, '--print-config', ...args], {
      cwd,
      env: { ...env },
    });
    expect(code, stderr).toBe(64);
    expect(stdout).toBe('');
    expect(stderr).toMatch(named);
    expectOneLine(stderr);
  }
}
