import {
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

const INSTALL_SCRIPT = new URL('../../examples/install.sh', import.meta.url).pathname;
/** Every agent log line starts with an ISO 8601 time. */
const ISO = '\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z';

/** Waits (bounded) until the server's tick reaches `tick`: the only wait is for the real clock to get there. */
async function untilTick(url: string, tick: number): Promise<void> {
  await until(`tick ${tick} at ${url}`, async () => {
    const { tick: now } = (await (await fetch(`${url}/healthz`)).json()) as { tick: number };
    return now >= tick;
  });
}

describe('fairpatch agent --once against a real server process', () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof startServer>>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fairpatch-agent-cli-'));
    // A demo repository whose only manifest is released 8 s after start: time enough for the first
    // agent run to finish before it on a busy machine. The dev seed brings releases forward by the
    // lead time, so the lead time is kept short and added to the delay.
    mkdirSync(join(dir, 'manifests'));
    cpSync(
      new URL('../../manifests/artifacts', import.meta.url).pathname,
      join(dir, 'manifests', 'artifacts'),
      { recursive: true },
    );
    const manifest = JSON.parse(
      readFileSync(new URL('../../manifests/acme-agent-2.4.1.json', import.meta.url), 'utf8'),
    );
    writeFileSync(
      join(dir, 'manifests', 'fix.json'),
      JSON.stringify({ ...manifest, release_at: '+9s' }),
    );
    server = await startServer(
      ['--dev', '--min-lead', '1s', '--data', join(dir, 'data'), '--keys', join(dir, 'keys')],
      { cwd: dir },
    );
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('installs after the release tick and not before with the examples/ install script, once; keeps receipts for its group', async () => {
    const activation = Date.parse(/live from (\S+)\)/.exec(server.output())?.[1] ?? '');
    expect(Number.isFinite(activation)).toBe(true);
    const installDir = join(dir, 'installed');
    const config = join(dir, 'agent.json');
    writeFileSync(
      config,
      JSON.stringify({
        server: server.url,
        group: 'eu-west',
        root: join(dir, 'keys', '1.root.json'),
        state: join(dir, 'agent'),
        product: 'acme/acme-agent',
        platform: 'linux-x64',
        'current-version': '2.3.1',
      }),
    );
    const run = () =>
      cli(['agent', '--config', config, '--once', '--install', INSTALL_SCRIPT], {
        env: { FAIRPATCH_INSTALL_DIR: installDir },
      });

    const before = await run();
    expect(before.code, before.stderr).toBe(0);
    expect(
      Date.now(),
      'the first poll must happen before the release (8 s after start)',
    ).toBeLessThan(activation);
    expect(before.stdout).toMatch(
      new RegExp(`^${ISO} no patch for product acme-agent signed by vendor acme`),
    );

    const { tick } = (await (await fetch(`${server.url}/healthz`)).json()) as { tick: number };
    await untilTick(server.url, tick + Math.ceil((activation - Date.now()) / 1000) + 1);
    const after = await run();
    expect(after.code, after.stdout + after.stderr).toBe(0);
    const lines = after.stdout.trim().split('\n');
    expect(
      lines.every((l) => new RegExp(`^${ISO} `).test(l)),
      after.stdout,
    ).toBe(true);
    expect(lines[0]).toMatch(/ installed acme-agent 2\.4\.1$/);
    // The install command's output is in the log: the example script, then the artifact it ran.
    expect(after.stdout).toMatch(/install> acme-agent 2\.4\.1 installed/);
    expect(readlinkSync(join(installDir, 'acme-agent', 'current'))).toBe('2.4.1');
    const again = await run();
    expect(again.stdout).toMatch(/up to date/);
    expect(
      readFileSync(join(installDir, 'acme-agent', 'history'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(1);

    // A failing install with --once: its output's tail, exit 1, and no promise of a retry it will not make.
    const failed = await cli([
      'agent',
      '--config',
      config,
      '--state',
      join(dir, 'agent-failing'),
      '--once',
      '--install',
      'echo "disk full" >&2; exit 3',
    ]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(
      /install of acme-agent 2\.4\.1 failed \(exit 3\); the next run retries/,
    );
    expect(failed.stdout).not.toMatch(/will retry/);
    expect(failed.stdout).toMatch(/install> disk full/);

    const exported = await cli(['agent', 'receipts', 'export', '--state', join(dir, 'agent')]);
    const { group, agent, documents, receipts } = JSON.parse(exported.stdout) as {
      group: string;
      agent: string;
      documents: Record<string, { signed: { _type: string } }>;
      receipts: Array<{ observation: { agent: string; group: string; document: string } }>;
    };
    expect(group).toBe('eu-west');
    expect(agent).toBe((await cli(['agent', 'id', '--state', join(dir, 'agent')])).stdout.trim());
    // One signed run per statement served (three polls, each a new tick), each naming its document.
    expect(receipts.length).toBe(3);
    expect(
      receipts.every(
        (r) =>
          r.observation.agent === agent &&
          r.observation.group === 'eu-west' &&
          documents[r.observation.document]?.signed._type === 'timestamp',
      ),
    ).toBe(true);
  });

  it('after a halt, the next run says once that the installed version was withdrawn, and what to do', async () => {
    // The agent state of the test above holds acme-agent 2.4.1, installed.
    const config = join(dir, 'agent.json');
    const run = () =>
      cli(['agent', '--config', config, '--once', '--install', INSTALL_SCRIPT], {
        env: { FAIRPATCH_INSTALL_DIR: join(dir, 'installed') },
      });
    const tokens = JSON.parse(readFileSync(join(dir, 'keys', 'tokens.json'), 'utf8')) as {
      acme: string;
    };
    const halted = await cli([
      'halt',
      'acme',
      '2.4.1',
      '--server',
      server.url,
      '--key',
      join(dir, 'keys', 'acme.key'),
      '--token',
      tokens.acme,
    ]);
    expect(halted.code, halted.stderr).toBe(0);
    const { activatesAt } = JSON.parse(halted.stdout) as { activatesAt: string };
    const { tick } = (await (await fetch(`${server.url}/healthz`)).json()) as { tick: number };
    await untilTick(
      server.url,
      tick + Math.ceil((Date.parse(activatesAt) - Date.now()) / 1000) + 1,
    );

    const first = await run();
    // The cycle ran and nothing failed: exit 0, as for any run that finds nothing to install.
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const withdrawn = first.stdout.split('\n').filter((l) => / WITHDRAWN: /.test(l));
    expect(withdrawn).toHaveLength(1);
    expect(withdrawn[0]).toMatch(
      new RegExp(
        `^${ISO} WITHDRAWN: acme-agent 2\\.4\\.1, installed here ${ISO}, was withdrawn by its vendor acme \\(halted: its signed metadata no longer lists acme/acme-agent-2\\.4\\.1-linux-x64\\.sh\\)\\. Read the vendor's advisory and roll back`,
      ),
    );
    const later = await run();
    expect(later.code, later.stdout + later.stderr).toBe(0);
    expect(later.stdout).not.toMatch(/WITHDRAWN/);
  });

  const offline = (state: string, version = '2.3.1') => [
    'agent',
    '--server',
    'http://127.0.0.1:1',
    '--group',
    'eu-west',
    '--root',
    join(dir, 'keys', '1.root.json'),
    '--state',
    join(dir, state),
    '--product',
    'acme/acme-agent',
    '--platform',
    'linux-x64',
    '--current-version',
    version,
    '--once',
  ];

  it('prints one timestamped line naming the problem and exits 69 when the server is unreachable', async () => {
    const result = await cli(offline('agent2'));
    expect(result.code).toBe(69);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    expect(result.stdout).toMatch(
      new RegExp(`^${ISO} REFUSED: server unreachable \\(cannot reach http://127\\.0\\.0\\.1:1`),
    );
  });

  it('refuses a corrupt agent.key in one line, exit 66 (a bad input file, not a bug)', async () => {
    for (const [state, text] of [
      ['agent5', '{"public": "ab'], // truncated: not JSON
      ['agent6', '{"public": "00", "private": "11"}\n'], // JSON, but not a key pair
    ] as const) {
      mkdirSync(join(dir, state), { recursive: true });
      writeFileSync(join(dir, state, 'agent.key'), text);
      const result = await cli(offline(state));
      expect(result.code, result.stderr).toBe(66);
      expect(result.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(
          new RegExp(
            `^fairpatch agent: ${join(dir, state, 'agent.key')} (is not a JSON key file|does not hold an agent key)[^;]*; restore it from a backup, or move it away to start as a new agent \\[AGENT_KEY_INVALID\\]$`,
          ),
        ),
      ]);
      expect(readFileSync(join(dir, state, 'agent.key'), 'utf8')).toBe(text); // never replaced
    }
  });

  it('refuses a current version that is not semver, before doing anything', async () => {
    const result = await cli(offline('agent3', 'two'));
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(/--current-version two is not a semantic version/);
    expect(existsSync(join(dir, 'agent3'))).toBe(false);
  });
});
