import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadSignatureError } from '../../src/agent/errors.js';
import { AgentFetcher } from '../../src/agent/fetcher.js';
import { CodedUpdater } from '../../src/agent/updater.js';
import {
  FORGED,
  GENUINE,
  type DiamondRepository,
  serveDiamondRepository,
} from '../helpers/diamond-repo.js';

// A delegated role that one lookup verified through one delegator must be verified again when a
// later lookup reaches it through another (the tuf-conformance suite's
// test_cached_role_is_verified_against_current_delegator). tuf-js 5 handed the cached role back
// unchecked, so one updater asked for both names served the forged one; tuf-js 6 checks the cached
// role against the delegator of the current path. The agent asks one updater for many targets.

const run = promisify(execFile);
const BIN = new URL('../../dist/cli/tuf-client.js', import.meta.url).pathname;

let repo: DiamondRepository;
const dirs: string[] = [];
const tempDir = (prefix: string): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};
beforeAll(async () => {
  repo = await serveDiamondRepository();
});
afterAll(async () => {
  await repo.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('a delegated role reached through a second delegator (diamond delegation)', () => {
  it('one updater: the first name through parent-a resolves, the second through parent-b is refused', async () => {
    const metadataDir = tempDir('diamond-md-');
    writeFileSync(join(metadataDir, 'root.json'), repo.rootBytes);
    const updater = new CodedUpdater({
      metadataDir,
      metadataBaseUrl: `${repo.url}/metadata`,
      targetDir: tempDir('diamond-t-'),
      targetBaseUrl: `${repo.url}/targets`,
      fetcher: new AgentFetcher({ attempts: 1, timeoutMs: 10_000 }),
    });
    await updater.refresh();
    expect((await updater.getTargetInfo(GENUINE.path))?.length).toBe(GENUINE.bytes.length);
    await expect(updater.getTargetInfo(FORGED.path)).rejects.toBeInstanceOf(BadSignatureError);
  });

  it('fairpatch-tuf-client with both names: downloads the genuine one only, exit 1', async () => {
    const md = tempDir('diamond-md-');
    const rootFile = join(tempDir('diamond-root-'), 'root.json');
    writeFileSync(rootFile, repo.rootBytes);
    await run(process.execPath, [BIN, '--metadata-dir', md, 'init', rootFile]);
    const targetDir = tempDir('diamond-t-');
    const result = await run(process.execPath, [
      BIN,
      '--metadata-dir',
      md,
      '--metadata-url',
      `${repo.url}/metadata`,
      '--target-name',
      GENUINE.path,
      '--target-name',
      FORGED.path,
      '--target-base-url',
      `${repo.url}/targets`,
      '--target-dir',
      targetDir,
      'download',
    ]).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/team-b\/trusted_root\.json: bad signature/);
    const file = (path: string) => join(targetDir, encodeURIComponent(path));
    expect(readFileSync(file(GENUINE.path), 'utf8')).toBe(GENUINE.bytes);
    expect(existsSync(file(FORGED.path))).toBe(false);
  });
});
