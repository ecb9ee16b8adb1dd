import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { MINIMUM_SECURE, SUPPORTED_MAJOR, runtimeProblem } from '../../scripts/check-runtime.mjs';
import pkg from '../../package.json' with { type: 'json' };

const run = promisify(execFile);
const SCRIPT = new URL('../../scripts/check-runtime.mjs', import.meta.url).pathname;

describe('the supported runtime (README, "Supported runtime")', () => {
  it('this node is Node.js 24 or newer, with the newest security release we know of', () => {
    expect(runtimeProblem(process.versions.node, { security: true })).toBeUndefined();
  });

  it('an older major is refused in one line that says what is needed', () => {
    expect(runtimeProblem('20.20.2')).toBe(
      'fairpatch needs Node.js 24 or newer; this is 20.20.2 (README, "Supported runtime")',
    );
    expect(runtimeProblem('22.22.2')).toMatch(/needs Node\.js 24 or newer/);
    expect(runtimeProblem('24.0.0')).toBeUndefined();
    expect(runtimeProblem('26.1.0', { security: true })).toBeUndefined();
  });

  it('a 24.x before the pinned security release passes the install check, not the security one', () => {
    expect(runtimeProblem('24.18.0')).toBeUndefined();
    expect(runtimeProblem('24.18.0', { security: true })).toMatch(
      /lacks the security fixes of 24\.18\.1/,
    );
    expect(runtimeProblem('24.9.9', { security: true })).toMatch(/lacks/);
    expect(runtimeProblem(MINIMUM_SECURE, { security: true })).toBeUndefined();
    expect(runtimeProblem('24.100.0', { security: true })).toBeUndefined();
  });

  it('package.json says the same: engines, and the check before npm installs anything', () => {
    expect(pkg.engines.node).toBe(`>=${SUPPORTED_MAJOR}`);
    expect(pkg.scripts.preinstall).toBe('node scripts/check-runtime.mjs');
    expect(pkg.scripts['check:runtime']).toBe('node scripts/check-runtime.mjs --security');
  });

  it('npm run check:runtime passes on this node and says so', async () => {
    const { stdout } = await run(process.execPath, [SCRIPT, '--security']);
    expect(stdout).toBe(
      `Node.js ${process.versions.node}: supported, with the fixes of ${MINIMUM_SECURE}\n`,
    );
  });
});
