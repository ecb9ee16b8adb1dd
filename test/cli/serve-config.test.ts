import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WITNESS_TABLE, withSettingsTables } from '../../src/cli/configuration-doc.js';
import type { Settings } from '../../src/config/settings.js';
import { NODE_DEFAULTS, NODE_SETTINGS } from '../../src/server/config.js';
import { WITNESS_SETTINGS } from '../../src/witness/config.js';
import { cli, expectOneLine, expectUsageErrors, startServer } from '../helpers/cli.js';

const DOC = new URL('../../docs/configuration.md', import.meta.url);

describe('the node configuration (src/server/config.ts)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fairpatch-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('docs/configuration.md lists every setting of the node and the witness as their schemas declare them (npm run docs:config)', () => {
    const doc = readFileSync(DOC, 'utf8');
    expect(doc, 'docs/configuration.md is out of date: run npm run docs:config').toBe(
      withSettingsTables(doc),
    );
    const listed = <Name extends string>(settings: Settings<Name, unknown>, part: string) => {
      for (const name of settings.names) {
        expect(settings.description(name), name).not.toBe('');
        expect(part).toContain(`| \`${name}\` |`);
      }
    };
    listed(NODE_SETTINGS, doc.slice(0, doc.indexOf(WITNESS_TABLE.begin)));
    listed(WITNESS_SETTINGS, doc.slice(doc.indexOf(WITNESS_TABLE.begin)));
  });

  it('a flag beats the --config file, which beats the environment, which beats the default', async () => {
    const file = join(dir, 'node.json');
    writeFileSync(file, JSON.stringify({ maxHorizonMs: '20d', streamRetryMs: 7000 }));
    const { code, stdout, stderr } = await cli(
      ['serve', '--print-config', '--config', file, '--stream-retry', '9s', '--max-streams', '5'],
      {
        cwd: dir,
        env: {
          FAIRPATCH_MIN_LEAD: '45s',
          FAIRPATCH_MAX_HORIZON: '10d',
          FAIRPATCH_STREAM_RETRY: '5s',
          FAIRPATCH_MAX_STREAMS: '7',
        },
      },
    );
    expect(code, stderr).toBe(0);
    const printed = JSON.parse(stdout) as Record<string, unknown>;
    expect(printed.minLeadMs).toBe(45_000); // environment over default
    expect(printed.maxHorizonMs).toBe(20 * 86_400_000); // file over environment
    expect(printed.streamRetryMs).toBe(9000); // flag over file and environment
    expect(printed.maxStreams).toBe(5); // flag over environment
    expect(printed.maxJsonBytes).toBe(NODE_DEFAULTS.maxJsonBytes); // nothing said: the default
    expect(printed.dataDir).toBe(join(dir, 'data'));
    // What it prints is a --config file that gives the same settings back.
    writeFileSync(file, stdout);
    const again = await cli(['serve', '--print-config', '--config', file], { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual(printed);
  });

  it('--print-config shows the number of workers, auto resolved to one per core', async () => {
    for (const [args, env, expected] of [
      [[], {}, availableParallelism()],
      [['--workers', 'auto'], { FAIRPATCH_WORKERS: '3' }, availableParallelism()],
      [[], { FAIRPATCH_WORKERS: '3' }, 3],
    ] as const) {
      const { code, stdout, stderr } = await cli(['serve', '--print-config', ...args], {
        cwd: dir,
        env: { ...env },
      });
      expect(code, stderr).toBe(0);
      expect((JSON.parse(stdout) as { workers: unknown }).workers).toBe(expected);
    }
  });

  it('a malformed flag, variable or file key exits 64 with one line naming it', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ maxJsonByte: 10 }));
    await expectUsageErrors(
      ['serve'],
      [
        [['--max-json-bytes', 'lots'], {}, /--max-json-bytes must be a size in bytes .*'lots'/],
        [['--agent-per-address-burst', '0'], {}, /--agent-per-address-burst must be a positive/],
        [[], { FAIRPATCH_MIN_LEAD: 'soon' }, /FAIRPATCH_MIN_LEAD must be a duration .*'soon'/],
        [[], { PORT: '70000' }, /PORT must be a port number from 0 to 65535/],
        [['--config', file], {}, /bad\.json: "maxJsonByte": unknown setting/],
      ],
      dir,
    );
    const missing = await cli(['serve', '--config', join(dir, 'none.json')], { cwd: dir });
    expect(missing.code).toBe(66);
    expectOneLine(missing.stderr);
  });

  it('--print-config redacts the operator token and the database password', async () => {
    const { code, stdout, stderr } = await cli(['serve', '--print-config'], {
      cwd: dir,
      env: {
        DATABASE_URL: 'postgres://fairpatch:hunter2@db.example:5432/fp?sslpassword=other-secret',
        FAIRPATCH_OPERATOR_TOKEN: 'op-token-s3cret',
      },
    });
    expect(code, stderr).toBe(0);
    expect(stdout).not.toMatch(/hunter2|other-secret|op-token-s3cret/);
    const printed = JSON.parse(stdout) as Record<string, string>;
    expect(printed.operatorToken).toBe('[redacted]');
    expect(printed.databaseUrl).toMatch(/^postgres:\/\/fairpatch:redacted@db\.example:5432\/fp/);
  });

  it('limits set on the command line hold on a running node, over real HTTP', async () => {
    const keys = join(dir, 'keys');
    expect((await cli(['keygen', '--keys', keys])).code).toBe(0);
    const server = await startServer([
      '--data',
      join(dir, 'data'),
      '--keys',
      keys,
      '--max-json-bytes',
      '1KiB',
      '--agent-per-address-burst',
      '1',
      '--agent-per-address-per-second',
      '0.01',
    ]);
    try {
      // 2 KiB of receipts: within the default 4 MiB, over the 1 KiB set here.
      const big = await fetch(`${server.url}/api/v1/receipts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ receipts: [], padding: 'x'.repeat(2048) }),
      });
      expect(big.status).toBe(413);
      expect(((await big.json()) as { error: { code: string } }).error.code).toBe(
        'PAYLOAD_TOO_LARGE',
      );
      // That request took the one token of this address's burst (default 400): the next waits.
      const next = await fetch(`${server.url}/api/v1/reports`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          group: 'eu',
          client: 'c',
          product: 'p',
          version: '1',
          outcome: 'installed',
        }),
      });
      expect(next.status).toBe(429);
      expect(((await next.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
      expect(Number(next.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await server.stop();
    }
  });
});
