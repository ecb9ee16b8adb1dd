import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { witnessLeafSchema, witnessPageSchema } from '../../src/common/witness.js';
import { verifiedCosigners } from '../../src/log/cosignature.js';
import { parseVerifierKey } from '../../src/log/note.js';
import { CLI, cli, startServer } from '../helpers/cli.js';
import { type StartedProcess, startProcess } from '../helpers/process.js';
import { until } from '../helpers/until.js';

const env = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => name !== 'DATABASE_URL'),
);

describe('fairpatch agent --witness and fairpatch audit --witness (real processes)', () => {
  let dir: string;
  /** `fairpatch audit` of the node at `url`, pinned to this repository's log key and first root. */
  const auditOf = (url: string): string[] => [
    'audit',
    '--server',
    url,
    '--log-key',
    join(dir, 'keys', 'log.vkey'),
    '--root',
    join(dir, 'keys', '1.root.json'),
  ];
  let server: StartedProcess;
  let witness: StartedProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fp-witness-e2e-'));
    mkdirSync(join(dir, 'manifests'));
    cpSync(
      new URL('../../manifests/artifacts', import.meta.url).pathname,
      join(dir, 'manifests', 'artifacts'),
      { recursive: true },
    );
    server = await startServer(
      ['--dev', '--data', join(dir, 'data'), '--keys', join(dir, 'keys')],
      { cwd: dir },
    );
    expect((await cli(['keygen', '--witness', 'w1'], { cwd: dir })).code).toBe(0);
    witness = await startProcess(
      [
        CLI,
        'witness',
        'serve',
        '--port',
        '0',
        '--log',
        server.url,
        '--log-key',
        join(dir, 'keys', 'log.vkey'),
        '--root',
        join(dir, 'keys', '1.root.json'),
        '--key',
        join(dir, 'w1.key'),
        '--data',
        join(dir, 'witness'),
      ],
      { env, timeoutMs: 20_000 },
    );
  });
  afterAll(async () => {
    await witness?.stop();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the agent delivers its receipts to the witness, proven logged; the auditor reads them; a wrong witness key cannot verify', async () => {
    const agentArgs = [
      'agent',
      '--server',
      server.url,
      '--group',
      'eu-west',
      '--root',
      join(dir, 'keys', '1.root.json'),
      '--state',
      join(dir, 'agent'),
      '--product',
      'acme/acme-agent',
      '--platform',
      'linux-x64',
      '--current-version',
      '2.3.1',
      '--once',
    ];
    const run = await cli([...agentArgs, '--witness', `${witness.url}=${join(dir, 'w1.vkey')}`]);
    expect(run.stdout + run.stderr).not.toMatch(/not delivered to witness/);
    const id = (await cli(['agent', 'id', '--state', join(dir, 'agent')])).stdout.trim();
    const page = witnessPageSchema.parse(
      await (await fetch(`${witness.url}/receipts?group=eu-west`)).json(),
    );
    expect(page.entries.length).toBeGreaterThan(0);
    const agents = new Set(
      page.entries.map(
        (e) => witnessLeafSchema.parse(JSON.parse(e.leaf)).receipt.observation.agent,
      ),
    );
    expect(agents.size).toBe(1);
    expect([...agents]).toEqual([id]);
    const tracked = readdirSync(join(dir, 'agent', 'receipts')).filter((f) =>
      f.startsWith('witness-'),
    );
    expect(tracked).toHaveLength(1);

    // A plain --witness without a key is a usage error for the agent: delivery must be provable.
    expect((await cli([...agentArgs, '--witness', witness.url])).code).toBe(64);

    const auditArgs = auditOf(server.url);
    const audited = await cli([
      ...auditArgs,
      '--state',
      join(dir, 'audit'),
      '--witness',
      witness.url,
      '--witness-key',
      join(dir, 'w1.vkey'),
    ]);
    expect(audited.stderr).not.toMatch(/witness/);
    expect(audited.stdout).toMatch(/^(FAIR|UNFAIR|CANNOT_VERIFY) /);

    // The key of another witness: its checkpoint does not verify, so the audit cannot verify (exit 2).
    expect((await cli(['keygen', '--witness', 'other'], { cwd: dir })).code).toBe(0);
    const wrong = await cli([
      ...auditArgs,
      '--state',
      join(dir, 'audit2'),
      '--witness',
      `${witness.url}=${join(dir, 'other.vkey')}`,
    ]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/CANNOT VERIFY: witness/);
    expect(existsSync(join(dir, 'w1.key'))).toBe(true);
    expect(readFileSync(join(dir, 'w1.vkey'), 'utf8')).toMatch(/^witness\/w1\+/);
  });

  it('fairpatch serve --witness: the node serves checkpoints the witness cosigned; audit --witness-threshold counts them', async () => {
    // Restarted with the witness configured (same data and keys).
    await server.stop();
    server = await startServer(
      ['--dev', '--data', join(dir, 'data'), '--keys', join(dir, 'keys'), '--witness', witness.url],
      { cwd: dir },
    );
    const cosigner = parseVerifierKey(readFileSync(join(dir, 'w1.vkey'), 'utf8'));
    // The node asks in the background: poll, bounded.
    const note = await until('a checkpoint cosigned by the witness', async () => {
      const served = await (await fetch(`${server.url}/log/checkpoint`)).text();
      return verifiedCosigners(served, [cosigner]).length > 0 && served;
    });
    expect(verifiedCosigners(note, [cosigner]).map((c) => c.name)).toEqual(['witness/w1']);

    const auditArgs = auditOf(server.url);
    const witnessed = await cli([
      ...auditArgs,
      '--state',
      join(dir, 'audit3'),
      '--witness-key',
      join(dir, 'w1.vkey'),
      '--witness-threshold',
      '1',
      '--json',
      join(dir, 'report.json'),
    ]);
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as {
      findings: Array<{ kind: string }>;
    };
    expect(
      report.findings.map((f) => f.kind),
      witnessed.stdout,
    ).not.toContain('checkpoint-unwitnessed');
    const unwitnessed = await cli([
      ...auditArgs,
      '--state',
      join(dir, 'audit4'),
      '--witness-key',
      join(dir, 'other.vkey'),
      '--witness-threshold',
      '1',
    ]);
    expect(unwitnessed.code).toBe(2);
    expect(unwitnessed.stdout).toMatch(/checkpoint-unwitnessed/);
    expect(
      (
        await cli([
          ...auditArgs,
          '--state',
          join(dir, 'audit5'),
          '--witness-key',
          join(dir, 'w1.vkey'),
          '--witness-threshold',
          '2',
        ])
      ).code,
    ).toBe(64);
  });
});
