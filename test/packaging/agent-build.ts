import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;

/** `npm run build:agent`'s script: the agent executable at `out`, stamped `version` (default package.json's). */
export async function buildAgent(out: string, version?: string): Promise<void> {
  await run(
    process.execPath,
    [
      `${ROOT}scripts/build-agent.mjs`,
      '--out',
      out,
      ...(version ? ['--version-stamp', version] : []),
    ],
    { cwd: ROOT, timeout: 120_000 },
  );
}

/** packaging/build-deb.sh: the .deb of `executable`, written into `outDir`; returns its path. */
export async function buildDeb(executable: string, outDir: string): Promise<string> {
  const { stdout } = await run('bash', [`${ROOT}packaging/build-deb.sh`, executable, outDir], {
    cwd: ROOT,
    timeout: 120_000,
  });
  return stdout.trim();
}

/** Runs an executable; resolves with its output and status whatever the status. */
export async function runExecutable(
  file: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(file, args, { ...options, timeout: 30_000 });
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
