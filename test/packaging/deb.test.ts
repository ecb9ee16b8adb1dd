import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, startServer } from '../helpers/cli.js';
import { until } from '../helpers/until.js';
import { buildAgent, buildDeb, runExecutable } from './agent-build.js';

// Issue 27 item 3: `npm run build:agent` makes one executable that needs no node_modules,
// packaging/build-deb.sh puts it in a .deb with its systemd unit and /etc/fairpatch/agent.json, and
// the executable installed from that .deb (unpacked into a throwaway root: dpkg-deb -x) installs a
// release from a live node, with the packaged settings file and the unit's own command line.

const ROOT = new URL('../../', import.meta.url).pathname;
const INSTALL_SCRIPT = join(ROOT, 'examples/install.sh');
const VERSION = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version;
const hasSystemd = spawnSync('systemd-analyze', ['--version']).status === 0;

describe('the fairpatch-agent .deb', () => {
  let dir: string;
  let root: string;
  let deb: string;
  let server: Awaited<ReturnType<typeof startServer>>;
  /** A path of the package, as installed into the throwaway root. */
  const installed = (path: string) => join(root, path);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fairpatch-deb-'));
    root = join(dir, 'root');
    // A node with one release, live one second after start.
    mkdirSync(join(dir, 'srv', 'manifests'), { recursive: true });
    cpSync(join(ROOT, 'manifests/artifacts'), join(dir, 'srv', 'manifests', 'artifacts'), {
      recursive: true,
    });
    const manifest = JSON.parse(
      readFileSync(join(ROOT, 'manifests/acme-agent-2.4.1.json'), 'utf8'),
    ) as object;
    writeFileSync(
      join(dir, 'srv', 'manifests', 'fix.json'),
      JSON.stringify({ ...manifest, release_at: '+2s' }),
    );
    const [started] = await Promise.all([
      startServer(['--dev', '--min-lead', '1s', '--data', 'data', '--keys', 'keys'], {
        cwd: join(dir, 'srv'),
      }),
      (async () => {
        await buildAgent(join(dir, 'build', 'fairpatch-agent'));
        deb = await buildDeb(join(dir, 'build', 'fairpatch-agent'), join(dir, 'out'));
        const unpacked = spawnSync('dpkg-deb', ['-x', deb, root], { encoding: 'utf8' });
        expect(unpacked.status, unpacked.stderr).toBe(0);
      })(),
    ]);
    server = started;
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds the executable, its launcher, the unit, the sysusers entry and agent.json as a conffile', () => {
    expect(deb).toMatch(
      new RegExp(`/fairpatch-agent_${VERSION.replace(/\./g, '\\.')}_amd64\\.deb$`),
    );
    const field = (name: string) =>
      spawnSync('dpkg-deb', ['-f', deb, name], { encoding: 'utf8' }).stdout.trim();
    expect(field('Package')).toBe('fairpatch-agent');
    expect(field('Version')).toBe(VERSION);
    const control = join(dir, 'control');
    expect(spawnSync('dpkg-deb', ['-e', deb, control]).status).toBe(0);
    expect(readFileSync(join(control, 'conffiles'), 'utf8')).toBe('/etc/fairpatch/agent.json\n');
    for (const path of [
      'usr/lib/fairpatch/fairpatch-agent',
      'usr/lib/fairpatch/fairpatch-agent-start',
      'lib/systemd/system/fairpatch-agent.service',
      'usr/lib/sysusers.d/fairpatch-agent.conf',
      'etc/fairpatch/agent.json',
    ])
      expect(existsSync(installed(path)), path).toBe(true);
    expect(readlinkSync(installed('usr/bin/fairpatch-agent'))).toBe(
      '../lib/fairpatch/fairpatch-agent',
    );
    expect(readFileSync(installed('usr/lib/sysusers.d/fairpatch-agent.conf'), 'utf8')).toMatch(
      /^u fairpatch-agent - /m,
    );
  });

  it('the installed executable answers --version and --help, with no node_modules anywhere near it', async () => {
    // Run from an empty directory, with nothing to find modules in: only the executable's own bytes.
    const cwd = mkdtempSync(join(dir, 'empty-'));
    const env = { PATH: '/usr/bin:/bin' };
    const exe = installed('usr/bin/fairpatch-agent');
    expect(await runExecutable(exe, ['--version'], { cwd, env })).toMatchObject({
      code: 0,
      stdout: `${VERSION}\n`,
    });
    const help = await runExecutable(exe, ['--help'], { cwd, env });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: fairpatch-agent <command>/);
    expect(help.stdout).toMatch(/^ {2}agent +poll, verify and install patches/m);
    // `agent` is the same command with the same options as `node dist/cli/main.js agent`, under
    // the executable's own name.
    const agentHelp = await runExecutable(exe, ['agent', '--help'], { cwd, env });
    expect(agentHelp.code).toBe(0);
    expect(agentHelp.stdout).toMatch(/^Usage: fairpatch-agent agent /);
    expect(agentHelp.stdout).not.toMatch(/^ {2}(npx )?fairpatch agent/m);
    const options = (text: string) =>
      text.slice(text.indexOf('\nOptions:'), text.indexOf('\nExample'));
    expect(options(agentHelp.stdout)).toBe(options((await cli(['agent', '--help'])).stdout));
    // …and nothing else: no server in the agent's executable.
    const serve = await runExecutable(exe, ['serve'], { cwd, env });
    expect(serve).toMatchObject({
      code: 64,
      stderr: expect.stringMatching(/unknown command 'serve'/),
    });
  });

  it('the launcher runs the self-updated executable when there is one, else the packaged one, and rolls back one that never comes up', async () => {
    // The launcher as installed, its two absolute paths moved into the throwaway root.
    const launcher = join(dir, 'fairpatch-agent-start');
    writeFileSync(
      launcher,
      readFileSync(installed('usr/lib/fairpatch/fairpatch-agent-start'), 'utf8').replaceAll(
        /(\/var\/lib\/fairpatch-agent|\/usr\/lib\/fairpatch)\//g,
        `${root}$1/`,
      ),
    );
    chmodSync(launcher, 0o755);
    expect((await runExecutable(launcher, ['--version'])).stdout).toBe(`${VERSION}\n`);
    const updated = installed('var/lib/fairpatch-agent/bin/fairpatch-agent');
    mkdirSync(join(updated, '..'), { recursive: true });
    writeFileSync(updated, '#!/bin/sh\necho "updated $*"\n', { mode: 0o755 });
    expect((await runExecutable(launcher, ['--version'])).stdout).toBe('updated --version\n');

    // Switched to 1.0.1, which crashes under systemd before its first poll: three starts, then the
    // previous executable is back and 1.0.1 named for the agent.
    writeFileSync(updated, '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    writeFileSync(`${updated}.previous`, '#!/bin/sh\necho "previous $*"\n', { mode: 0o755 });
    writeFileSync(`${updated}.unconfirmed`, '1.0.1\n');
    for (let start = 1; start <= 3; start++)
      expect((await runExecutable(launcher, ['agent'])).code, `start ${start}`).toBe(1);
    const fourth = await runExecutable(launcher, ['agent']);
    expect(fourth).toMatchObject({
      code: 0,
      stdout: 'previous agent\n',
      stderr: expect.stringMatching(/1\.0\.1 did not come up in 3 starts/),
    });
    expect(readFileSync(`${updated}.rolled-back`, 'utf8')).toBe('1.0.1\n');
    expect(existsSync(`${updated}.unconfirmed`)).toBe(false);
    expect(existsSync(`${updated}.previous`)).toBe(false);
    rmSync(join(updated, '..'), { recursive: true });
  });

  it('systemd-analyze verify passes on the installed unit, its executable in place', () => {
    // The install script brings systemd-analyze; a machine without it fails here, never skips.
    expect(hasSystemd, 'systemd-analyze: run bash scripts/install-system-packages.sh').toBe(true);
    // verify checks that ExecStart's file exists and is executable: the unit's paths are pointed
    // into the throwaway root, where the package put them.
    const unit = join(dir, 'fairpatch-agent.service');
    writeFileSync(
      unit,
      readFileSync(installed('lib/systemd/system/fairpatch-agent.service'), 'utf8').replaceAll(
        '/usr/lib/fairpatch/',
        `${root}/usr/lib/fairpatch/`,
      ),
    );
    const result = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    expect(result.stderr + result.stdout).toBe('');
    expect(result.status).toBe(0);
  });

  it("installs a release from a live node with the packaged agent.json and the unit's command line", async () => {
    // The packaged settings, pointed at this node: every key of the conffile is one the agent takes.
    const packaged = JSON.parse(
      readFileSync(installed('etc/fairpatch/agent.json'), 'utf8'),
    ) as Record<string, string>;
    const config = join(dir, 'agent.json');
    writeFileSync(
      config,
      JSON.stringify({
        ...packaged,
        server: server.url,
        group: 'eu-west',
        root: join(dir, 'srv', 'keys', '1.root.json'),
        product: 'acme/acme-agent',
        'current-version': '2.3.1',
        install: INSTALL_SCRIPT,
      }),
    );
    // The unit's ExecStart, its paths moved into the throwaway root, run once.
    const unit = readFileSync(installed('lib/systemd/system/fairpatch-agent.service'), 'utf8');
    const exec = /^ExecStart=(.*)$/m.exec(unit)![1]!.split(/\s+/);
    expect(exec[0]).toBe('/usr/lib/fairpatch/fairpatch-agent-start');
    const args = exec
      .slice(1)
      .map((a) =>
        a === '/etc/fairpatch/agent.json'
          ? config
          : a.startsWith('/var/lib/fairpatch-agent')
            ? join(root, a)
            : a,
      );
    const live = Date.parse(/live from (\S+)\)/.exec(server.output())?.[1] ?? '');
    await until('the release tick', () => Date.now() > live + 1000, { timeoutMs: 30_000 });
    const run = await runExecutable(
      installed('usr/lib/fairpatch/fairpatch-agent'),
      [...args, '--once'],
      {
        cwd: mkdtempSync(join(dir, 'run-')),
        env: { PATH: '/usr/bin:/bin', FAIRPATCH_INSTALL_DIR: join(dir, 'installed') },
      },
    );
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/ installed acme-agent 2\.4\.1\n/);
    expect(existsSync(join(dir, 'installed', 'acme-agent', '2.4.1'))).toBe(true);
    expect(existsSync(join(root, 'var/lib/fairpatch-agent/state/installed.json'))).toBe(true);
  });
});
