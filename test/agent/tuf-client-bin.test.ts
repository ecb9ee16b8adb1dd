import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, MINUTE, createFixture, listen } from '../helpers/repo.js';
import { tamperBlob } from '../helpers/blobs.js';

const run = promisify(execFile);
const BIN = new URL('../../dist/cli/tuf-client.js', import.meta.url).pathname;
async function client(args: string[]): Promise<number> {
  try {
    await run(process.execPath, [BIN, ...args], { timeout: 20_000 });
    return 0;
  } catch (error) {
    return (error as { code?: number }).code ?? 1;
  }
}

let fx: Fixture;
let server: { url: string; close(): Promise<void> };
let sha256: string;
beforeAll(async () => {
  fx = await createFixture();
  await fx.addVendor('acme');
  const artifact = await fx.artifact('fix.sh', 'echo fixed\n');
  // Two more, never tampered with (the first test tampers with fix.sh).
  const second = await fx.artifact('fix2.sh', 'echo fixed too\n', 'windows-x64');
  const third = await fx.artifact('fix3.sh', 'echo fixed as well\n', 'any');
  sha256 = artifact.sha256;
  const releaseAt = fx.clock.now() + MINUTE;
  await fx.node.repo.stageVendorMetadata(
    'acme',
    await fx.release('acme', {}, [artifact, second, third], releaseAt),
  );
  fx.clock.set(releaseAt);
  server = await listen(fx.node.app);
});
afterAll(async () => {
  await server.close();
  await fx.close();
});

describe('fairpatch-tuf-client (the tuf-conformance client contract)', () => {
  it('init, refresh and download: exit 0; a missing target or a tampered one: exit 1', async () => {
    const md = mkdtempSync(join(tmpdir(), 'conf-md-'));
    const td = mkdtempSync(join(tmpdir(), 'conf-t-'));
    const base = ['--metadata-dir', md, '--metadata-url', `${server.url}/metadata`];
    expect(await client(['--metadata-dir', md, 'init', join(fx.keysDir, '1.root.json')])).toBe(0);
    expect(await client([...base, 'refresh'])).toBe(0);
    const download = (name: string) =>
      client([
        ...base,
        '--target-name',
        name,
        '--target-base-url',
        `${server.url}/targets`,
        '--target-dir',
        td,
        'download',
      ]);
    expect(await download('acme/fix.sh')).toBe(0);
    expect(readFileSync(join(td, encodeURIComponent('acme/fix.sh')), 'utf8')).toBe('echo fixed\n');
    expect(await download('acme/missing.sh')).toBe(1);
    await tamperBlob(fx.node, sha256, 'echo PWNED\n');
    const other = mkdtempSync(join(tmpdir(), 'conf-t2-'));
    expect(
      await client([
        ...base,
        '--target-name',
        'acme/fix.sh',
        '--target-base-url',
        `${server.url}/targets`,
        '--target-dir',
        other,
        'download',
      ]),
    ).toBe(1);
    expect(existsSync(join(other, encodeURIComponent('acme/fix.sh')))).toBe(false);
  });

  it('several --target-name in order, exit 1 if any failed; a missing --target-dir is created', async () => {
    const md = mkdtempSync(join(tmpdir(), 'conf-md-'));
    expect(await client(['--metadata-dir', md, 'init', join(fx.keysDir, '1.root.json')])).toBe(0);
    const download = (dir: string, names: string[]) =>
      client([
        '--metadata-dir',
        md,
        '--metadata-url',
        `${server.url}/metadata`,
        ...names.flatMap((n) => ['--target-name', n]),
        '--target-base-url',
        `${server.url}/targets`,
        '--target-dir',
        dir,
        'download',
      ]);
    const file = (dir: string, name: string) => join(dir, encodeURIComponent(name));
    // Both names, into a directory that does not exist yet (it was: the second only, exit 0; ENOENT).
    const both = join(mkdtempSync(join(tmpdir(), 'conf-t-')), 'not', 'yet');
    expect(await download(both, ['acme/fix2.sh', 'acme/fix3.sh'])).toBe(0);
    expect(readFileSync(file(both, 'acme/fix2.sh'), 'utf8')).toBe('echo fixed too\n');
    expect(readFileSync(file(both, 'acme/fix3.sh'), 'utf8')).toBe('echo fixed as well\n');
    // A missing name before a good one: the good one is still downloaded, and the exit status is 1.
    const mixed = mkdtempSync(join(tmpdir(), 'conf-t-'));
    expect(await download(mixed, ['acme/missing.sh', 'acme/fix2.sh'])).toBe(1);
    expect(existsSync(file(mixed, 'acme/fix2.sh'))).toBe(true);
  });
});
