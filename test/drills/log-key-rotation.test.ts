import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/log/checkpoint.js';
import { verifiedCosigners } from '../../src/log/cosignature.js';
import { parseVerifierKey } from '../../src/log/note.js';
import { CLI, cli } from '../helpers/cli.js';
import { DIALECTS, freshDatabase } from '../helpers/dialects.js';
import { DrillNode, freePort, report } from '../helpers/drill.js';
import { registerVendor } from '../helpers/nodes.js';
import { type StartedProcess, startProcess } from '../helpers/process.js';
import { until } from '../helpers/until.js';

const OPERATOR = 'drill-operator-token-fedcba9876543210';
const baseEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => name !== 'DATABASE_URL'),
);

// `fairpatch log rotate begin`, a restart, `promote`, a restart: a witness, an agent and an auditor
// pinned to the old log.vkey follow to the new key from the log's own announcement (issue 24: the
// witness answered 403 and cosigned nothing, the agent said LOG CHECKPOINT INVALID, the audit with a
// witness threshold said CANNOT_VERIFY). Nobody is handed the new key.
describe.each(DIALECTS)(
  'a log key rotation followed by witness, agent and auditor (%s)',
  (dialect) => {
    const dir = mkdtempSync(join(tmpdir(), `fairpatch-drill-logkey-${dialect}-`));
    const keys = join(dir, 'keys');
    const pinned = join(dir, 'pinned-log.vkey');
    let node: DrillNode | undefined;
    let witness: StartedProcess | undefined;
    afterAll(async () => {
      await node?.stop();
      await witness?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('the audit with --witness-threshold 1 stays FAIR, the agent sees no invalid checkpoint', async () => {
      const started = performance.now();
      expect((await cli(['keygen', '--keys', keys])).code).toBe(0);
      expect((await cli(['keygen', '--witness', 'w1'], { cwd: dir })).code).toBe(0);
      // What witness, agents and auditor were given once, before any rotation.
      copyFileSync(join(keys, 'log.vkey'), pinned);
      const w1 = parseVerifierKey(readFileSync(join(dir, 'w1.vkey'), 'utf8'));
      const databaseUrl = await freshDatabase(dialect);
      const env: Record<string, string> = {
        FAIRPATCH_OPERATOR_TOKEN: OPERATOR,
        ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      };
      // Fixed ports: the witness follows the node, the node asks the witness, across restarts.
      const [nodePort, witnessPort] = [await freePort(), await freePort()];
      const nodeArgs = [
        '--data',
        join(dir, 'data'),
        '--keys',
        keys,
        '--min-lead',
        '2s',
        '--port',
        String(nodePort),
        '--witness',
        `http://127.0.0.1:${witnessPort}`,
      ];
      const startWitness = () =>
        startProcess(
          [
            CLI,
            'witness',
            'serve',
            '--port',
            String(witnessPort),
            '--log',
            `http://127.0.0.1:${nodePort}`,
            '--log-key',
            pinned,
            '--root',
            join(keys, '1.root.json'),
            '--key',
            join(dir, 'w1.key'),
            '--data',
            join(dir, 'witness'),
          ],
          { env: baseEnv, timeoutMs: 20_000 },
        );
      witness = await startWitness();
      node = await DrillNode.start('node', nodeArgs, env);
      await registerVendor(node.url, OPERATOR, keys, 'acme');

      /** A new leaf (groups declared again), and the checkpoint that holds it cosigned by the witness. */
      const witnessedCheckpoint = async (signer: string): Promise<string> => {
        const declared = await cli([
          'groups',
          'declare',
          'eu-west',
          '--server',
          node!.url,
          '--token',
          OPERATOR,
        ]);
        expect(declared.code, declared.stderr).toBe(0);
        const { logIndex } = JSON.parse(declared.stdout) as { logIndex: number };
        const key = parseVerifierKey(signer);
        return until(
          `a checkpoint past leaf ${logIndex} signed by the log key and cosigned by the witness`,
          async () => {
            const note = await (await fetch(`${node!.url}/log/checkpoint`)).text();
            const checkpoint = openCheckpoint(note, key);
            return checkpoint.size > logIndex && verifiedCosigners(note, [w1]).length === 1
              ? note
              : undefined;
          },
          // A bound, not a speed: the witness learns the new key on a refusal (it asks the log at
          // most every 10 s) and the node asks it again every 5 s; a busy machine adds to both.
          { timeoutMs: 60_000, everyMs: 50 },
        );
      };
      const agentRun = (state: string) =>
        cli([
          'agent',
          '--server',
          node!.url,
          '--group',
          'eu-west',
          '--root',
          join(keys, '1.root.json'),
          '--state',
          join(dir, state),
          '--product',
          'acme/acme-agent',
          '--platform',
          'linux-x64',
          '--current-version',
          '1.0.0',
          '--log-key',
          pinned,
          '--witness',
          `${witness!.url}=${join(dir, 'w1.vkey')}`,
          '--witness-threshold',
          '1',
          '--once',
        ]);
      const audit = () =>
        cli([
          'audit',
          '--server',
          node!.url,
          '--log-key',
          pinned,
          '--root',
          join(keys, '1.root.json'),
          '--state',
          join(dir, 'auditor'),
          '--witness-key',
          join(dir, 'w1.vkey'),
          '--witness-threshold',
          '1',
        ]);
      const expectFollowed = async (step: string, agentState: string) => {
        const agent = await agentRun(agentState);
        expect(agent.stdout + agent.stderr, step).not.toMatch(/LOG CHECKPOINT INVALID|UNWITNESSED/);
        expect(agent.code, `${step}: ${agent.stdout}${agent.stderr}`).toBe(0);
        const audited = await audit();
        expect(audited.stdout, `${step}: ${audited.stderr}`).toMatch(/^FAIR /);
        expect(audited.code).toBe(0);
      };

      const oldKey = readFileSync(pinned, 'utf8');
      await witnessedCheckpoint(oldKey);
      await expectFollowed('before the rotation', 'agent');

      // Step 1: the next key is announced; both keys sign until the promotion.
      const begun = await cli(['log', 'rotate', 'begin', '--keys', keys]);
      expect(begun.code, begun.stderr).toBe(0);
      report(
        `${dialect}: after log rotate begin, restarted to first poll in ${(await node.restart()).toFixed(0)} ms`,
      );
      await witnessedCheckpoint(oldKey);
      await expectFollowed('after log rotate begin', 'agent');

      // Step 2: the new key alone. Witness, agent and auditor still hold only the old log.vkey.
      const promoted = await cli(['log', 'rotate', 'promote', '--keys', keys]);
      expect(promoted.code, promoted.stderr).toBe(0);
      const newKey = readFileSync(join(keys, 'log.vkey'), 'utf8');
      expect(newKey).not.toBe(oldKey);
      report(
        `${dialect}: after log rotate promote, restarted to first poll in ${(await node.restart()).toFixed(0)} ms`,
      );
      const followedAt = performance.now();
      await witnessedCheckpoint(newKey);
      report(
        `${dialect}: the witness cosigned the new key's first checkpoint ${(performance.now() - followedAt).toFixed(0)} ms after it was appended`,
      );
      await expectFollowed('after log rotate promote', 'agent');
      // An agent that never saw a checkpoint of the old key's time follows too.
      await expectFollowed('a new agent after the promotion', 'agent-new');

      // A witness restarted after the promotion keeps following (it keeps no key list: it asks again).
      await witness.stop();
      witness = await startWitness();
      await witnessedCheckpoint(newKey);
      await expectFollowed('after the witness restarted', 'agent');
      report(
        `${dialect}: log key rotation drill took ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    }, 180_000);
  },
);
