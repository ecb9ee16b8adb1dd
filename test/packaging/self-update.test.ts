import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, startServer } from '../helpers/cli.js';
import { until } from '../helpers/until.js';
import { buildAgent, runExecutable } from './agent-build.js';

// Issue 27 item 4: the agent updates itself through its repository, like any product
// (fairpatch/agent), with real processes. The agent 1.0.0 runs as the packaged executable would
// (--self-update DIR beside it, as the systemd unit gives it). The node first releases 1.0.1, an
// "executable" that exits at once: the agent switches, the health check fails, the agent renames
// its previous executable back, reports the failure and keeps running. Then a vendor publishes
// 1.0.2, a real build: the agent switches, 1.0.2 reports healthy, and the agent exits 75 for its
// service manager; started again as systemd would, it is 1.0.2.

const OPERATOR = 'self-update-operator-token-0123456789';

function manifest(version: string, file: string, releaseAt: string): string {
  return JSON.stringify({
    vendor: 'fairpatch',
    product: 'agent',
    version,
    channel: 'stable',
    severity: 'medium',
    cves: [],
    applies_to: '>=1.0.0',
    release_at: releaseAt,
    description: 'fairpatch agent',
    artifacts: [{ platform: 'linux-x64', file, name: `fairpatch-agent-${version}-linux-x64` }],
  });
}

describe('fairpatch-agent --self-update against a live node', () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof startServer>>;
  let agent: ReturnType<typeof spawn>;
  let output = '';
  let exited: Promise<number | null>;
  const bin = () => join(dir, 'bin');
  const args = () => [
    'agent',
    '--server',
    server.url,
    '--group',
    'eu-west',
    '--root',
    join(dir, 'srv', 'keys', '1.root.json'),
    '--state',
    join(dir, 'state'),
    '--product',
    'acme/acme-agent',
    '--platform',
    'linux-x64',
    '--current-version',
    '2.4.1',
    // While the event stream is up the agent polls every ten intervals: 2 s.
    '--interval',
    '200ms',
    '--self-update',
    bin(),
  ];
  const version = async (file: string) => (await runExecutable(file, ['--version'])).stdout.trim();
  const reports = async () =>
    (
      (await (
        await fetch(`${server.url}/api/v1/reports`, {
          headers: { authorization: `Bearer ${OPERATOR}` },
        })
      ).json()) as { reports: Array<{ product: string; version: string; outcome: string }> }
    ).reports.filter((r) => r.product === 'agent');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fairpatch-self-update-'));
    const manifests = join(dir, 'srv', 'manifests');
    mkdirSync(join(manifests, 'artifacts'), { recursive: true });
    // 1.0.1 passes every TUF check (the vendor signed it) and is no agent at all.
    writeFileSync(
      join(manifests, 'artifacts', 'broken'),
      '#!/bin/sh\necho "segmentation fault" >&2\nexit 139\n',
      { mode: 0o755 },
    );
    writeFileSync(
      join(manifests, 'agent-1.0.1.json'),
      manifest('1.0.1', 'artifacts/broken', '+2s'),
    );
    const [started] = await Promise.all([
      startServer(['--dev', '--min-lead', '1s', '--data', 'data', '--keys', 'keys'], {
        cwd: join(dir, 'srv'),
        env: { FAIRPATCH_OPERATOR_TOKEN: OPERATOR },
      }),
      buildAgent(join(dir, 'pkg', 'fairpatch-agent'), '1.0.0').then(() =>
        buildAgent(join(dir, 'build', 'fairpatch-agent-1.0.2'), '1.0.2'),
      ),
    ]);
    server = started;
  }, 180_000);
  afterAll(async () => {
    agent?.kill('SIGKILL');
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a release whose executable exits at once: switched, health check failed, rolled back; the agent keeps running and reports it', async () => {
    // Started as the packaged executable: its --self-update directory does not exist yet.
    agent = spawn(join(dir, 'pkg', 'fairpatch-agent'), args(), {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    agent.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    agent.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    exited = new Promise((resolve) => agent.once('exit', (code) => resolve(code)));

    await until('the rollback', () => /SELF-UPDATE ROLLED BACK/.test(output), {
      timeoutMs: 30_000,
    });
    expect(output).toMatch(
      /SELF-UPDATE ROLLED BACK: fairpatch\/agent 1\.0\.1 did not come up \(exit 139; last line: segmentation fault\); back to 1\.0\.0, which keeps running; 1\.0\.1 is not tried again/,
    );
    // What starts next is the agent that was running, and nothing else was kept.
    expect(await version(join(bin(), 'fairpatch-agent'))).toBe('1.0.0');
    expect(readdirSync(bin())).toEqual(['fairpatch-agent']);
    expect(
      (
        JSON.parse(readFileSync(join(dir, 'state', 'self-update.json'), 'utf8')) as {
          failed: Array<{ version: string }>;
        }
      ).failed.map((f) => f.version),
    ).toEqual(['1.0.1']);
    await until('the failure reported to the node', async () =>
      (await reports()).some((r) => r.version === '1.0.1' && r.outcome === 'failed'),
    );

    // Two more polls: the agent still runs and does not download 1.0.1 again.
    const polls = () => output.split('\n').filter((l) => /no patch for product acme-agent/.test(l));
    const seen = polls().length;
    await until('two more polls', () => polls().length >= seen + 2, { timeoutMs: 20_000 });
    expect(agent.exitCode, output).toBeNull();
    expect(output.match(/self-update: fairpatch\/agent 1\.0\.1 is released/g)).toHaveLength(1);
  });

  it('a working release: switched, healthy, exit 75; started again, it is the new version and keeps the previous one', async () => {
    const keys = join(dir, 'srv', 'keys');
    const tokens = JSON.parse(readFileSync(join(keys, 'tokens.json'), 'utf8')) as {
      fairpatch: string;
    };
    copyFileSync(
      join(dir, 'build', 'fairpatch-agent-1.0.2'),
      join(dir, 'srv', 'manifests', 'artifacts', 'good'),
    );
    const file = join(dir, 'srv', 'manifests', 'agent-1.0.2.json');
    // Ahead of the lead time once 100 MB are uploaded: release_at is read before the upload.
    writeFileSync(file, manifest('1.0.2', 'artifacts/good', '+8s'));
    const published = await cli([
      'publish',
      file,
      '--server',
      server.url,
      '--key',
      join(keys, 'fairpatch.key'),
      '--token',
      tokens.fairpatch,
    ]);
    expect(published.code, published.stderr).toBe(0);

    const code = await Promise.race([
      exited,
      until('the agent to exit', () => agent.exitCode !== null, { timeoutMs: 60_000 }).then(
        () => agent.exitCode,
      ),
    ]);
    expect(code, output).toBe(75);
    expect(output).toMatch(
      /SELF-UPDATE: switched to fairpatch\/agent 1\.0\.2 \(from 1\.0\.0\), which reports healthy; exiting for the service manager to start it/,
    );
    expect(await version(join(bin(), 'fairpatch-agent'))).toBe('1.0.2');
    expect(await version(join(bin(), 'fairpatch-agent.previous'))).toBe('1.0.0');
    // Until its first successful poll under the service manager, the unit's launcher counts its starts.
    expect(readdirSync(bin()).sort()).toEqual([
      'fairpatch-agent',
      'fairpatch-agent.previous',
      'fairpatch-agent.unconfirmed',
    ]);
    expect((await reports()).some((r) => r.version === '1.0.2' && r.outcome === 'installed')).toBe(
      true,
    );

    // What systemd does on exit 75 (RestartForceExitStatus): start the unit's executable again.
    const again = await runExecutable(join(bin(), 'fairpatch-agent'), [...args(), '--once']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).not.toMatch(/self-update/);
    expect(readdirSync(bin()).sort()).toEqual(['fairpatch-agent', 'fairpatch-agent.previous']);
  });

  it('under node, --self-update is refused (exit 64: node is not the agent to replace) and --self-test answers', async () => {
    const [, ...rest] = args();
    const refused = await cli(['agent', ...rest]);
    expect(refused.code).toBe(64);
    expect(refused.stderr).toMatch(/--self-update: only the fairpatch-agent executable/);
    const withoutSelfUpdate = rest.slice(0, rest.indexOf('--self-update'));
    const healthy = await cli(['agent', ...withoutSelfUpdate, '--self-test']);
    expect(healthy, healthy.stderr).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^healthy \d+\.\d+\.\d+\n$/),
    });
  });

  it('a version the launcher rolled back (it never came up under systemd) is said, reported and not tried again', async () => {
    // What packaging/agent/fairpatch-agent-start leaves after putting the previous executable back.
    writeFileSync(join(bin(), 'fairpatch-agent.rolled-back'), '1.0.3\n');
    const run = await runExecutable(join(bin(), 'fairpatch-agent'), [...args(), '--once']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /SELF-UPDATE ROLLED BACK: fairpatch\/agent 1\.0\.3 did not come up under the service manager \(3 starts\); fairpatch-agent-start put 1\.0\.2 back; 1\.0\.3 is not tried again/,
    );
    expect(existsSync(join(bin(), 'fairpatch-agent.rolled-back'))).toBe(false);
    expect(
      (
        JSON.parse(readFileSync(join(dir, 'state', 'self-update.json'), 'utf8')) as {
          failed: Array<{ version: string }>;
        }
      ).failed.map((f) => f.version),
    ).toEqual(['1.0.1', '1.0.3']);
    await until('the failure reported to the node', async () =>
      (await reports()).some((r) => r.version === '1.0.3' && r.outcome === 'failed'),
    );
  });
});
