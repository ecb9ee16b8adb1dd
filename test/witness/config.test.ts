import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseVerifierKey } from '../../src/log/note.js';
import { WITNESS_LIMITS, WitnessConfig } from '../../src/witness/config.js';
import { createWitness } from '../../src/witness/node.js';
import { witnessOptions } from '../../src/witness/options.js';
import { generateWitnessKey, readWitnessKey } from '../../src/witness/key.js';
import { CLI, cli, expectUsageErrors } from '../helpers/cli.js';
import { startProcess } from '../helpers/process.js';
import { SimAgent } from '../helpers/receipts.js';
import { MINUTE, createFixture, listen, readRoot } from '../helpers/repo.js';
import { postReceipts } from '../helpers/witness.js';

/** The repository a witness follows, as a --config file names it (the files need not exist to print). */
/** The witness's environment without DATABASE_URL: its SQLite file, whatever the test run uses. */
const withoutDatabaseUrl = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'DATABASE_URL'));

const following = (logUrl = 'http://127.0.0.1:9', keysDir = 'keys') => ({
  logUrl,
  logKeyFile: join(keysDir, 'log.vkey'),
  rootFile: join(keysDir, '1.root.json'),
});

describe('the witness configuration (src/witness/config.ts), through the built CLI', () => {
  let dir: string;
  const write = (name: string, settings: unknown): string => {
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify(settings));
    return file;
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fp-witness-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a flag beats the --config file, which beats the environment, which beats the default', async () => {
    const file = write('witness.json', {
      ...following(),
      keyFile: 'w1.key',
      perAddressBurst: 5,
      receiptsPerKeyPerMinute: 9,
      maxJsonBytes: '2KiB',
    });
    const { code, stdout, stderr } = await cli(
      ['witness', 'serve', '--print-config', '--config', file, '--per-address-burst', '7'],
      {
        cwd: dir,
        env: {
          FAIRPATCH_WITNESS_MAX_JSON_BYTES: '1KiB',
          FAIRPATCH_WITNESS_ROOT_REFRESH_INTERVAL: '5m',
          FAIRPATCH_WITNESS_PER_ADDRESS_BURST: '3',
        },
      },
    );
    expect(code, stderr).toBe(0);
    const printed = JSON.parse(stdout) as Record<string, unknown>;
    expect(printed.perAddressBurst).toBe(7); // flag over file and environment
    expect(printed.maxJsonBytes).toBe(2048); // file over environment
    expect(printed.receiptsPerKeyPerMinute).toBe(9); // file over default
    expect(printed.rootRefreshMs).toBe(300_000); // environment over default
    expect(printed.maxAddCheckpointBytes).toBe(WITNESS_LIMITS.maxAddCheckpointBytes); // the default
    expect(printed.logUrl).toBe('http://127.0.0.1:9');
    // Paths are resolved where the command runs; the key file's path is shown, it is not the key.
    expect(printed.keyFile).toBe(join(dir, 'w1.key'));
    expect(printed.rootFile).toBe(join(dir, 'keys', '1.root.json'));
    expect(printed.dataDir).toBe(join(dir, 'witness-data'));
    // What it prints is a --config file that gives the same settings back.
    const again = await cli(
      ['witness', 'serve', '--print-config', '--config', write('printed.json', printed)],
      { cwd: dir },
    );
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual(printed);
  });

  it('--print-config redacts the database password and nothing else', async () => {
    const { code, stdout, stderr } = await cli(
      ['witness', 'serve', '--print-config', '--config', write('plain.json', following())],
      {
        cwd: dir,
        env: { DATABASE_URL: 'postgres://witness:hunter2@db.example:5432/w?password=other' },
      },
    );
    expect(code, stderr).toBe(0);
    expect(stdout).not.toMatch(/hunter2|other/);
    const printed = JSON.parse(stdout) as Record<string, unknown>;
    expect(printed.databaseUrl).toMatch(/^postgres:\/\/witness:redacted@db\.example:5432\/w/);
    expect(printed.keyFile).toBe(join(dir, 'witness.key'));
    expect(printed.maxJsonBytes).toBe(WITNESS_LIMITS.maxJsonBytes);
  });

  it('an unknown key, a malformed value or a missing repository exits 64 with one line naming it', async () => {
    const unknown = write('unknown.json', { ...following(), receiptsPerKeyPerMinut: 2 });
    await expectUsageErrors(
      ['witness', 'serve'],
      [
        [['--config', unknown], {}, /unknown\.json: "receiptsPerKeyPerMinut": unknown setting/],
        [
          ['--config', write('ok.json', following())],
          { FAIRPATCH_WITNESS_MAX_JSON_BYTES: 'lots' },
          /FAIRPATCH_WITNESS_MAX_JSON_BYTES must be a size in bytes .*'lots'/,
        ],
        [
          ['--log-key', 'log.vkey', '--root', '1.root.json'],
          {},
          /--log is required \(or set FAIRPATCH_WITNESS_LOG_URL, or "logUrl" in the --config file\)/,
        ],
      ],
      dir,
    );
  });

  it('a 64 KiB body limit from the --config file holds on the running witness', async () => {
    const fx = await createFixture();
    const node = await listen(fx.node.app);
    const keyFile = join(dir, 'w1.key');
    generateWitnessKey(keyFile, 'w1');
    const file = write('limits.json', {
      ...following(node.url, fx.keysDir),
      keyFile,
      dataDir: join(dir, 'limits-data'),
      port: 0,
      maxJsonBytes: '64KiB',
    });
    const witness = await startProcess([CLI, 'witness', 'serve', '--config', file], {
      env: withoutDatabaseUrl(),
      timeoutMs: 20_000,
    });
    try {
      // 100 KiB: within the default 4 MiB, over the 64 KiB of the file.
      const big = await postReceipts(witness.url, { receipts: [], padding: 'x'.repeat(100_000) });
      expect(big.status).toBe(413);
      expect(big.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    } finally {
      await witness.stop();
      await node.close();
      await fx.close();
    }
  }, 60_000);

  // The budget is per minute of the witness's clock. Run by the CLI, that clock is the wall clock
  // and the test had to wait for a fresh minute; here the witness runs in process from the settings
  // `witness serve` resolved, mapped by the same function, on a clock the test moves.
  it("a per-key budget of 2 from the --config file, per minute of the witness's clock", async () => {
    const fx = await createFixture();
    const keyFile = join(dir, 'w2.key');
    generateWitnessKey(keyFile, 'w2');
    const file = write('budget.json', {
      ...following('http://127.0.0.1:9', fx.keysDir),
      keyFile,
      dataDir: join(dir, 'budget-data'),
      receiptsPerKeyPerMinute: 2,
    });
    const printed = await cli(['witness', 'serve', '--print-config', '--config', file]);
    expect(printed.code, printed.stderr).toBe(0);
    const config = WitnessConfig.parse(JSON.parse(printed.stdout));
    expect(config.receiptsPerKeyPerMinute).toBe(2);
    const witness = await createWitness({
      ...witnessOptions(config, {
        key: readWitnessKey(keyFile),
        root: readRoot(fx.keysDir),
        logKey: parseVerifierKey(readFileSync(config.logKeyFile, 'utf8')),
      }),
      clock: fx.clock,
    });
    const http = await listen(witness.app);
    try {
      const agent = new SimAgent('eu-west', fx.clock);
      for (let i = 0; i < 4; i++) {
        await agent.poll(fx.node.app);
        fx.clock.advance(1000);
      }
      const one = (i: number) => ({ documents: agent.documents, receipts: [agent.receipts[i]] });
      // Three posts in the witness's one minute: the third is over the budget.
      fx.clock.set(Math.ceil(fx.clock.now() / MINUTE) * MINUTE);
      expect((await postReceipts(http.url, one(0))).status).toBe(201);
      expect((await postReceipts(http.url, one(1))).status).toBe(201);
      const third = await postReceipts(http.url, one(2));
      expect(third.status).toBe(429);
      expect(third.body.error.code).toBe('RATE_LIMITED');
      // The next minute of its clock, the key's budget is whole again.
      fx.clock.advance(MINUTE);
      expect((await postReceipts(http.url, one(2))).status).toBe(201);
    } finally {
      await http.close();
      await witness.close();
      await fx.close();
    }
  });
});
