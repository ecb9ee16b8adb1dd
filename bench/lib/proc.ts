import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { type StartedProcess, startProcess as startNodeProcess } from './process.js';

const run = promisify(execFile);
// Compiled beside the benchmarks (tsconfig.bench.json), so both run the same build.
export const CLI = new URL('../../src/cli/main.js', import.meta.url).pathname;

export type Proc = StartedProcess;

/** A benchmark process (a bigger heap than the default), over this process's environment. */
export function startProcess(args: string[], env: Record<string, string> = {}): Promise<Proc> {
  return startNodeProcess(['--max-old-space-size=4096', ...args], {
    env: { ...process.env, ...env },
  });
}

/** `pid` and every process below it (a cluster's workers, nginx's), from /proc. */
export function processTree(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .split(' ')
      .filter(Boolean)
      .map(Number);
  } catch {
    // Gone meanwhile: nothing below it either.
  }
  return [pid, ...children.flatMap(processTree)];
}

/** CPU time (user and system, every thread) the processes have used so far, in ms. */
export function cpuMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // Exited: its time is no longer counted anywhere, as for a process that never ran.
    }
  }
  // Linux reports these in USER_HZ, 100 per second on every architecture Node runs on.
  return ticks * 10;
}

export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

export interface WrkResult {
  rps: number;
  p50ms: number;
  p99ms: number;
  errors: number;
}

const toMs = (v: string, unit: string): number =>
  Number(v) * ({ us: 0.001, ms: 1, s: 1000 }[unit] ?? 1);

/** wrk with latency percentiles, bounded in time; 127.0.0.1 only. */
export async function wrk(
  url: string,
  options: { connections: number; seconds: number; threads?: number; script?: string },
): Promise<WrkResult> {
  if (!url.startsWith('http://127.0.0.1:')) throw new Error('benchmarks only target 127.0.0.1');
  const args = [
    `-t${options.threads ?? 1}`,
    `-c${options.connections}`,
    `-d${options.seconds}s`,
    '--latency',
    ...(options.script ? ['-s', options.script] : []),
    url,
  ];
  const { stdout } = await run('wrk', args, { timeout: (options.seconds + 30) * 1000 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0);
  const p = (q: string) => {
    const m = new RegExp(`\\s${q}%\\s+([\\d.]+)(us|ms|s)`).exec(stdout);
    return m ? toMs(m[1]!, m[2]!) : NaN;
  };
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1];
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    stdout,
  );
  return {
    rps,
    p50ms: p('50'),
    p99ms: p('99'),
    errors: Number(errors ?? 0) + (socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
  };
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
