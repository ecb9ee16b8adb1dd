import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ShellBlock } from './doc-blocks.js';

/**
 * A fresh copy of the repository, as a clone has it: the files git tracks (and new ones it would
 * track), in a git repository of its own with one commit, so `git status` afterwards shows what
 * following the docs wrote outside git-ignored places. node_modules is hard-linked (a copy when
 * links cannot be made), so `npm install` there finds it up to date and cannot touch this one.
 */
export function copyRepository(from: string, to: string): void {
  const files = execFileSync(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    {
      cwd: from,
      maxBuffer: 64 * 1024 * 1024,
    },
  )
    .toString()
    .split('\0')
    .filter((f) => f !== '' && existsSync(join(from, f)) && statSync(join(from, f)).isFile());
  for (const file of new Set(files)) {
    mkdirSync(dirname(join(to, file)), { recursive: true });
    cpSync(join(from, file), join(to, file), { preserveTimestamps: true });
  }
  try {
    execFileSync('cp', ['-al', join(from, 'node_modules'), join(to, 'node_modules')]);
  } catch {
    rmSync(join(to, 'node_modules'), { recursive: true, force: true });
    cpSync(join(from, 'node_modules'), join(to, 'node_modules'), { recursive: true });
  }
  // npm rewrites its hidden lockfile in place: a file of its own, not this repository's.
  const hidden = join(to, 'node_modules', '.package-lock.json');
  if (existsSync(hidden)) {
    rmSync(hidden);
    cpSync(join(from, 'node_modules', '.package-lock.json'), hidden);
  }
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=readme', '-c', 'user.email=readme@test', ...args], {
      cwd: to,
      stdio: 'pipe',
    });
  git('init', '-q');
  git('add', '-A');
  git('commit', '-q', '--no-verify', '-m', 'a fresh copy');
}

/**
 * `npx fairpatch` in a copy links the copy into npm's npx cache (one directory per project path):
 * those of a removed copy are removed with it.
 */
export function forgetNpxLinks(copy: string): void {
  const cache = join(process.env.npm_config_cache ?? join(homedir(), '.npm'), '_npx');
  if (!existsSync(cache)) return;
  for (const entry of readdirSync(cache)) {
    const manifest = join(cache, entry, 'package.json');
    try {
      if (readFileSync(manifest, 'utf8').includes(copy))
        rmSync(join(cache, entry), { recursive: true, force: true });
    } catch {
      // Not an npx entry, or already gone.
    }
  }
}

/** What `git status --porcelain` says in `dir`: empty when nothing but ignored files was written. */
export function gitStatus(dir: string): string {
  return execFileSync('git', ['status', '--porcelain'], { cwd: dir }).toString();
}

export { freePort } from '../../bench/lib/free-port.js';

/**
 * A terminal as a newcomer opens it: none of this test run's npm variables, fairpatch settings or
 * node_modules/.bin on PATH (so a bare `fairpatch` is not found, as on a fresh machine).
 */
export function freshEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) =>
        !/^(npm_|FAIRPATCH_|DATABASE_URL$|INIT_CWD$|PORT$|HOST$|NODE_OPTIONS$)/i.test(name),
    ),
  );
  env.PATH = (process.env.PATH ?? '')
    .split(':')
    .filter((p) => !p.includes('node_modules/.bin'))
    .join(':');
  return { ...env, ...extra };
}

export interface Started {
  block: ShellBlock;
  child: ChildProcess;
  output: () => string;
}

const describeBlock = (where: string, block: ShellBlock, code: string, output: string) =>
  `${where}:${block.line}\n${code}\n--- output ---\n${output.slice(-6000)}`;

/** Runs a block as a script (`set -euo pipefail`: an unset variable or a failed command fails it). */
export function runBlock(
  where: string,
  block: ShellBlock,
  code: string,
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', code], {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => {
      killGroup(child, 'SIGKILL');
      reject(new Error(`timed out: ${describeBlock(where, block, code, output)}`));
    }, options.timeoutMs);
    child.once('exit', (status, signal) => {
      clearTimeout(timer);
      if (status === 0) resolve(output);
      else
        reject(new Error(`exit ${status ?? signal}: ${describeBlock(where, block, code, output)}`));
    });
  });
}

/** Starts a block that runs a server, and waits until its `readyAt` URL answers (or it exits). */
export async function startBlock(
  where: string,
  block: ShellBlock,
  code: string,
  readyAt: string,
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<Started> {
  const child = spawn('bash', ['-euo', 'pipefail', '-c', code], {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const started: Started = { block, child, output: () => output };
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(
        `exited (${child.exitCode ?? child.signalCode}) before ${readyAt} answered: ${describeBlock(where, block, code, output)}`,
      );
    const answered = await fetch(readyAt, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.arrayBuffer().then(() => true),
      () => false,
    );
    if (answered) return started;
    if (Date.now() > deadline) {
      await stopBlock(started);
      throw new Error(`${readyAt} never answered: ${describeBlock(where, block, code, output)}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // ESRCH: the whole group is gone already.
  }
}

const groupAlive = (child: ChildProcess): boolean => {
  try {
    process.kill(-child.pid!, 0);
    return true;
  } catch {
    return false;
  }
};

/** SIGTERM to the block's whole process group (npm does not pass it on), SIGKILL after 10 s. */
export async function stopBlock(started: Started): Promise<void> {
  killGroup(started.child, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (groupAlive(started.child) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 200));
  killGroup(started.child, 'SIGKILL');
}
