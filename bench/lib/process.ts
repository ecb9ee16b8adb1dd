import { type ChildProcess, spawn } from 'node:child_process';

export interface StartedProcess {
  url: string;
  process: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves at once if it already exited (or was killed). */
  stop(): Promise<void>;
}

/**
 * Starts a Node script that prints "… on http://127.0.0.1:PORT" once listening, and waits for that
 * line (bounded). Shared by the tests' server processes and the benchmarks'.
 */
export async function startProcess(
  args: string[],
  options: { cwd?: string; env: NodeJS.ProcessEnv; timeoutMs?: number; wrapper?: string[] },
): Promise<StartedProcess> {
  // A wrapper runs node under another program (e.g. `faketime -f +3s`).
  const [command, ...rest] = [...(options.wrapper ?? []), process.execPath, ...args] as [
    string,
    ...string[],
  ];
  const child = spawn(command, rest, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    // Not started in time: stopped, or it would outlive the run and its pipes hold the test worker.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`did not start:\n${output}`));
    }, options.timeoutMs ?? 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = / on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}:\n${output}`));
    });
  });
  return {
    url,
    process: child,
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}
