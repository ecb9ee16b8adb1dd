import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit/run.js';
import { rotateLogKey } from '../../src/keys/keygen.js';
import { cli } from '../helpers/cli.js';
import { type Fixture, createFixture, listen, readRoot } from '../helpers/repo.js';

// An auditor's --state follows one log. A --log-key that contradicts the key saved there is refused
// with one line and exit 2, before anything is fetched: never quietly used instead of the saved one.

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function served(): Promise<{ fx: Fixture; url: string }> {
  const fx = await createFixture();
  cleanup.push(() => fx.close());
  await fx.node.appDeps.declareGroups!(['eu-west']);
  const http = await listen(fx.node.app);
  cleanup.push(() => http.close());
  return { fx, url: http.url };
}

const auditArgs = (url: string, state: string, keysDir: string, logKeyDir = keysDir) => [
  'audit',
  '--server',
  url,
  '--state',
  state,
  '--log-key',
  join(logKeyDir, 'log.vkey'),
  '--root',
  join(keysDir, '1.root.json'),
];

describe('fairpatch audit --log-key against --state', () => {
  it('refuses a key that contradicts the one saved in the state: exit 2, one clear line', async () => {
    const mine = await served();
    const other = await served();
    const state = mkdtempSync(join(tmpdir(), 'fairpatch-audit-'));
    const first = await cli(auditArgs(mine.url, state, mine.fx.keysDir));
    expect(first.code, first.stderr + first.stdout).toBe(0);

    // Another log's key, with that log at the same address (a swapped server), or with this one.
    for (const url of [other.url, mine.url]) {
      const refused = await cli(auditArgs(url, state, other.fx.keysDir));
      expect(refused.code).toBe(2);
      expect(refused.stdout).toBe('');
      const lines = refused.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(
          `^CANNOT VERIFY: --log-key \\S+ contradicts the log key saved in --state ${state} `,
        ),
      );
    }
    // The saved key still works.
    expect((await cli(auditArgs(mine.url, state, mine.fx.keysDir))).code).toBe(0);
  });

  it('a key the log announced under the saved one (a rotation) is no contradiction', async () => {
    const { fx } = await served();
    const state = mkdtempSync(join(tmpdir(), 'fairpatch-audit-'));
    const pinned = readFileSync(join(fx.keysDir, 'log.vkey'), 'utf8').trim();
    const audit = async (logKey: string) => {
      const node = await fx.openNode();
      // A new leaf, so a checkpoint signed by this node's keys.
      await node.app.request('/g/eu-west/metadata/timestamp.json');
      await node.evidence.rollup();
      await node.sequencer.idle();
      const http = await listen(node.app);
      cleanup.push(() => http.close());
      const root = readRoot(fx.keysDir);
      return runAudit({ server: http.url, stateDir: state, logKey, root, now: fx.clock.now() });
    };
    expect((await audit(pinned)).error).toBeUndefined();
    const { vkey: next } = rotateLogKey(fx.keysDir, 'begin');
    expect((await audit(pinned)).error).toBeUndefined();
    rotateLogKey(fx.keysDir, 'promote');
    // Learnt from the rotation leaf: given now as --log-key, it is the same log.
    const outcome = await audit(next);
    expect(outcome.error).toBeUndefined();
    expect(outcome.report).toBeDefined();
    // A key from nowhere still is one.
    const stranger = readFileSync(join((await served()).fx.keysDir, 'log.vkey'), 'utf8').trim();
    expect((await audit(stranger)).error).toMatch(/contradicts the log key saved in --state/);
  });
});
