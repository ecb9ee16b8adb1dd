import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, startServer } from '../helpers/cli.js';

// What `fairpatch serve` tells its operator: a busy port before anything is written, a missing
// operator token at start, and its operations log in the format and level asked for (flag,
// environment or --config).

const REPO_ROOT = new URL('../..', import.meta.url).pathname;
let dir: string;
let keys: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fairpatch-serve-ops-'));
  keys = join(dir, 'keys');
  const made = await cli(['keygen', '--keys', keys]);
  expect(made.code, made.stderr).toBe(0);
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('serve --dev on a busy port', () => {
  it('fails naming the port before generating keys, creating the database or publishing', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const fresh = join(dir, 'busy');
      const result = await cli(
        [
          'serve',
          '--dev',
          '--workers',
          '1',
          '--host',
          '127.0.0.1',
          '--port',
          String(port),
          '--data',
          join(fresh, 'data'),
          '--keys',
          join(fresh, 'keys'),
        ],
        { cwd: REPO_ROOT },
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`port ${port} is in use on 127\\.0\\.0\\.1`));
      expect(result.stdout).not.toMatch(/generated dev keys|published/);
      expect(existsSync(join(fresh, 'keys'))).toBe(false);
      expect(existsSync(join(fresh, 'data'))).toBe(false);
    } finally {
      busy.close();
    }
  });
});

describe('serve without an operator token', () => {
  const started = async (args: string[], env: Record<string, string> = {}) => {
    const server = await startServer(
      ['--keys', keys, '--data', mkdtempSync(join(dir, 'data-')), ...args],
      { env },
    );
    try {
      // The warning is written before the banner: the node is up, so it has been said if ever.
      return server.output();
    } finally {
      await server.stop();
    }
  };

  it('warns at start, in text by default', async () => {
    const output = await started([]);
    expect(output).toMatch(
      /^\S+Z warn {2}operator-token: no operator token: operator commands .* will be refused as "unknown or revoked token"; set FAIRPATCH_OPERATOR_TOKEN/m,
    );
  });

  it('says nothing with FAIRPATCH_OPERATOR_TOKEN', async () => {
    const output = await started([], { FAIRPATCH_OPERATOR_TOKEN: 'fp_operator_test-token-1234' });
    expect(output).not.toMatch(/operator-token/);
  });

  it('as JSON with --log-format json, FAIRPATCH_LOG_FORMAT=json or "logFormat" in --config', async () => {
    const config = join(dir, 'serve.json');
    writeFileSync(config, JSON.stringify({ logFormat: 'json' }));
    for (const [args, env] of [
      [['--log-format', 'json'], {}],
      [[], { FAIRPATCH_LOG_FORMAT: 'json' }],
      [['--config', config], {}],
    ] as const) {
      const output = await started([...args], env);
      const line = output.split('\n').find((l) => l.includes('"operator-token"'));
      expect(line, output).toBeDefined();
      expect(JSON.parse(line!)).toMatchObject({ level: 'warn', event: 'operator-token' });
    }
  });

  it('not at all with --log-level error', async () => {
    expect(await started(['--log-level', 'error'])).not.toMatch(/operator-token/);
  });

  it('refuses a log format or level it does not know, as a usage error', async () => {
    const bad = await cli(['serve', '--log-format', 'xml', '--print-config']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toMatch(/--log-format.*must be text or json/);
    const level = await cli(['serve', '--print-config'], { env: { FAIRPATCH_LOG_LEVEL: 'loud' } });
    expect(level.code).toBe(64);
    expect(level.stderr).toMatch(/FAIRPATCH_LOG_LEVEL.*must be debug, info, warn or error/);
  });
});

describe('serve --dev with --log-format json', () => {
  it('logs one JSON line per example published', async () => {
    const fresh = join(dir, 'dev');
    const server = await startServer(
      [
        '--dev',
        '--log-format',
        'json',
        '--data',
        join(fresh, 'data'),
        '--keys',
        join(fresh, 'keys'),
      ],
      { cwd: REPO_ROOT },
    );
    try {
      const events = server
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { event: string; vendor?: string });
      const manifests = readdirSync(join(REPO_ROOT, 'manifests')).filter(
        (f) => f.endsWith('.json') && f !== 'schema.json',
      );
      expect(events.filter((e) => e.event === 'publish')).toHaveLength(manifests.length);
      expect(server.output()).not.toMatch(/operator-token/);
    } finally {
      await server.stop();
    }
  }, 60_000);
});
