import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../helpers/until.js';

// `npx fairpatch agent` runs as npm → sh -c → node. A SIGTERM to npx used to stop npm and the shell
// and leave the agent running, reparented. The agent must stop with its launcher.

const REPO = new URL('../..', import.meta.url).pathname;

/** Running: a process that exited but was not reaped yet (a zombie, state Z) has stopped. */
const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

/** The node process running the CLI in process group `pgid` (npm's grandchild). */
function cliProcess(pgid: number): number | undefined {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '-g', String(pgid)], { encoding: 'utf8' });
  const line = out
    .split('\n')
    // The bin's shebang runs node with this flag: npm and npx are node processes too, without it.
    .find((l) => /node --no-memory-reducer \S*fairpatch agent/.test(l));
  return line ? Number(line.trim().split(/\s+/)[0]) : undefined;
}

let cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup.reverse()) c();
  cleanup = [];
});

describe('fairpatch started through npx', () => {
  it('SIGTERM to npx stops the agent too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fairpatch-npx-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'root.json'), '{}');
    const log = join(dir, 'agent.log');
    const out = openSync(log, 'w');
    cleanup.push(() => closeSync(out));
    const npx = spawn(
      'npx',
      [
        'fairpatch',
        'agent',
        '--server',
        'http://127.0.0.1:1',
        '--group',
        'eu-west',
        '--root',
        join(dir, 'root.json'),
        '--state',
        join(dir, 'state'),
        '--product',
        'acme/acme-agent',
        '--platform',
        'linux-x64',
        '--current-version',
        '1.0.0',
        '--interval',
        '60s',
      ],
      { cwd: REPO, detached: true, stdio: ['ignore', out, out] },
    );
    const pgid = npx.pid!;
    cleanup.push(() => {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    });
    const agent = await until('the agent under npx', () => {
      // npx gone before its agent showed: say what it printed rather than time out on ps.
      if (npx.exitCode !== null || npx.signalCode !== null)
        throw new Error(
          `npx exited (${npx.exitCode ?? npx.signalCode}): ${readFileSync(log, 'utf8')}`,
        );
      return cliProcess(pgid);
    });
    expect(alive(agent)).toBe(true);
    // Running: its first cycle said something (a refusal: the root is no root, the server no server).
    await until('a cycle', () => /REFUSED/.test(readFileSync(log, 'utf8')));

    npx.kill('SIGTERM');
    await until('the agent to stop after SIGTERM to npx', () => !alive(agent));
    expect(alive(agent)).toBe(false);
  }, 60_000);
});
