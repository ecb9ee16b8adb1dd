import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startProcess } from '../helpers/process.js';
import { until } from '../helpers/until.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('startProcess (test/helpers/process.ts)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fp-start-process-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // A server that never said where it listens was left running: its pipes held the test worker open
  // (vitest warned of a hanging process at the end of the run) and the process outlived the run.
  it('a process that never says where it listens is stopped, not left running', async () => {
    const script = join(dir, 'silent.mjs');
    writeFileSync(script, `console.log('pid ' + process.pid); setInterval(() => {}, 1000);\n`);
    const failed = await startProcess([script], { env: process.env, timeoutMs: 1000 }).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(failed?.message).toMatch(/did not start/);
    const pid = Number(/pid (\d+)/.exec(failed!.message)?.[1]);
    expect(pid).toBeGreaterThan(0);
    await until('the silent process to be stopped', () => !alive(pid), { timeoutMs: 10_000 });
  });
});
