import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/table.js';
import type { Command } from '../../src/cli/spec.js';
import { cli, expectOneLine } from '../helpers/cli.js';

const REPO_ROOT = new URL('../..', import.meta.url).pathname;
const MANIFEST = join(REPO_ROOT, 'manifests', 'acme-agent-2.4.1.json');

/** Every command and subcommand path, from the same table the CLI dispatches on. */
function paths(commands: readonly Command[], prefix: string[] = []): string[][] {
  return commands.flatMap((c) => [
    [...prefix, c.name],
    ...paths(c.subcommands ?? [], [...prefix, c.name]),
  ]);
}

/** A port nothing listens on: bound by the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('CLI conventions', () => {
  let dir: string;
  let keys: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fairpatch-conventions-'));
    keys = join(dir, 'keys');
    expect((await cli(['keygen', '--keys', keys])).code).toBe(0);
    expect((await cli(['keygen', '--keys', keys, '--vendor', 'acme'])).code).toBe(0);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const path of paths(COMMANDS)) {
    it(`${path.join(' ')} --help and -h print its usage and an example, exit 0`, async () => {
      for (const flag of ['--help', '-h']) {
        const { code, stdout, stderr } = await cli([...path, flag]);
        expect(code, stderr).toBe(0);
        expect(stdout).toContain(`Usage: fairpatch ${path.join(' ')}`);
        expect(stdout).toMatch(/^Examples?:\n {2}fairpatch /m);
      }
    });
  }

  it('help CMD prints the same help as CMD --help; no command prints the list and exits 64', async () => {
    const viaHelp = await cli(['help', 'publish']);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toBe((await cli(['publish', '--help'])).stdout);
    expect(viaHelp.stdout).toMatch(/--server URL .*\(required\)/);
    const none = await cli([]);
    expect(none.code).toBe(64);
    expect(none.stderr).toMatch(/^ {2}publish /m);
  });

  it("audit's help shows the auditor's real defaults", async () => {
    const { DEFAULT_AUDIT_OPTIONS } = await import('../../src/audit/fairness.js');
    const help = (await cli(['audit', '--help'])).stdout;
    expect(help).toContain(`(default ${DEFAULT_AUDIT_OPTIONS.maxLagMs / 1000}s)`);
    expect(help).toContain(`(default ${DEFAULT_AUDIT_OPTIONS.quorum})`);
  });

  it('--version prints the version from package.json', async () => {
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    const { code, stdout } = await cli(['--version']);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(version);
  });

  it('an unknown command or flag is named with the nearest match, exit 64', async () => {
    const command = await cli(['publsh']);
    expect(command.code).toBe(64);
    expect(command.stderr).toMatch(/unknown command 'publsh'; did you mean publish\?/);
    expectOneLine(command.stderr);

    const flag = await cli(['publish', MANIFEST, '--sever', 'http://127.0.0.1:1']);
    expect(flag.code).toBe(64);
    expect(flag.stderr).toMatch(/unknown option --sever; did you mean --server\?/);
    expect(flag.stderr).not.toMatch(/BAD_REQUEST|To specify a positional/);
    expectOneLine(flag.stderr);

    const sub = await cli(['vendor', 'ad', 'acme']);
    expect(sub.code).toBe(64);
    expect(sub.stderr).toMatch(/did you mean add\?/);
  });

  it('a missing or malformed option is a usage error (64), audit included', async () => {
    const audit = await cli(['audit']);
    expect(audit.code).toBe(64);
    expect(audit.stderr).toMatch(/--server is required/);
    expectOneLine(audit.stderr);

    const noScheme = await cli([
      'publish',
      MANIFEST,
      '--server',
      'localhost:8080',
      '--key',
      join(keys, 'acme.key'),
      '--token',
      't'.repeat(20),
    ]);
    expect(noScheme.code).toBe(64);
    expect(noScheme.stderr).toMatch(/did you mean http:\/\/localhost:8080\?/);
    expectOneLine(noScheme.stderr);
  });

  it('connection refused: one line saying so, exit 69', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const { code, stderr } = await cli([
      'publish',
      MANIFEST,
      '--server',
      url,
      '--key',
      join(keys, 'acme.key'),
      '--token',
      't'.repeat(20),
    ]);
    expect(code).toBe(69);
    expect(stderr).toMatch(
      new RegExp(`cannot reach ${url}: connection refused; is the server running\\?`),
    );
    expectOneLine(stderr);

    const audit = await cli([
      'audit',
      '--server',
      url,
      '--state',
      join(dir, 'audit'),
      '--root',
      join(keys, '1.root.json'),
      '--log-key',
      join(keys, 'log.vkey'),
    ]);
    expect(audit.code).toBe(2);
    expect(audit.stderr).toMatch(/CANNOT VERIFY: cannot reach .*connection refused/);
    expectOneLine(audit.stderr);
  });

  it('a missing manifest, key or root file: one line naming the path, exit 66 (audit: 2, cannot verify)', async () => {
    const missing = join(dir, 'nope.json');
    const manifest = await cli([
      'publish',
      missing,
      '--server',
      'http://127.0.0.1:1',
      '--key',
      join(keys, 'acme.key'),
      '--token',
      't'.repeat(20),
    ]);
    expect(manifest.code).toBe(66);
    expect(manifest.stderr).toContain(`manifest ${missing}: no such file`);
    expectOneLine(manifest.stderr);

    const key = await cli([
      'publish',
      MANIFEST,
      '--server',
      'http://127.0.0.1:1',
      '--key',
      missing,
      '--token',
      't'.repeat(20),
    ]);
    expect(key.code).toBe(66);
    expect(key.stderr).toContain(`--key ${missing}: no such file`);

    const root = await cli(['audit', '--server', 'http://127.0.0.1:1', '--root', missing]);
    expect(root.code).toBe(2);
    expect(root.stderr).toContain(`--root ${missing}: no such file`);
    expectOneLine(root.stderr);
  });

  it('serve on a busy port: one line naming the port, exit 1', async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const { port } = busy.address() as { port: number };
    try {
      const { code, stderr } = await cli([
        'serve',
        '--port',
        String(port),
        '--host',
        '127.0.0.1',
        '--keys',
        keys,
        '--data',
        join(dir, 'data'),
      ]);
      expect(code).toBe(1);
      expect(stderr).toMatch(new RegExp(`port ${port} is in use on 127\\.0\\.0\\.1; pass --port`));
      expectOneLine(stderr);
    } finally {
      await new Promise<void>((resolve) => busy.close(() => resolve()));
    }
  });
});
