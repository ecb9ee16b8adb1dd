import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyEnrollment } from '../../src/common/enrollment.js';
import { cli, expectOneLine } from '../helpers/cli.js';

// A group owner enrolls agents from the command line: its key stays with it (0600), each agent takes
// only a certificate for its own key and group, and anything else is one line and exit 64.

let dir: string;
const agentKey = async (state: string): Promise<string> =>
  (await cli(['agent', 'id', '--state', state])).stdout.trim();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fairpatch-owner-'));
  expect((await cli(['owner', 'keygen', 'owner-eu'], { cwd: dir })).code).toBe(0);
});

describe('fairpatch owner and agent enroll', () => {
  it('keygen: the private key 0600, the public key in hex beside it, never overwritten', async () => {
    expect(statSync(join(dir, 'owner-eu.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'owner-eu.pub'), 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    const again = await cli(['owner', 'keygen', 'owner-eu'], { cwd: dir });
    expect(again.code, again.stderr).toBe(64);
    expect(again.stderr).toMatch(/owner-eu\.key already exists; keys are never overwritten/);
    expectOneLine(again.stderr);
  });

  it('an agent installs a certificate for its own key and group, and refuses any other', async () => {
    const [a, b] = [join(dir, 'agent-a'), join(dir, 'agent-b')];
    const [keyA, keyB] = [await agentKey(a), await agentKey(b)];
    const enroll = (agent: string, group: string, out: string) =>
      cli(['owner', 'enroll', '--key', 'owner-eu.key', '--group', group, agent, '--out', out], {
        cwd: dir,
      });
    expect((await enroll(keyA, 'eu-west', 'a.json')).code).toBe(0);
    const certificate = JSON.parse(readFileSync(join(dir, 'a.json'), 'utf8'));
    expect(verifyEnrollment(certificate)).toBe(true);
    expect(certificate.enrollment).toMatchObject({
      group: 'eu-west',
      agent: keyA,
      owner: readFileSync(join(dir, 'owner-eu.pub'), 'utf8').trim(),
    });

    const install = (state: string, file: string, group = 'eu-west') =>
      cli(['agent', 'enroll', join(dir, file), '--state', state, '--group', group]);
    // Another agent's certificate, another group's, or one altered after signing: one line, exit 64.
    for (const [state, file, group, named] of [
      [b, 'a.json', 'eu-west', /for agent .* this agent is/],
      [a, 'a.json', 'us-east', /for group eu-west, this agent polls for us-east/],
    ] as const) {
      const refused = await install(state, file, group);
      expect(refused.code, refused.stderr).toBe(64);
      expect(refused.stderr).toMatch(named);
      expectOneLine(refused.stderr);
    }
    writeFileSync(
      join(dir, 'altered.json'),
      JSON.stringify({ ...certificate, enrollment: { ...certificate.enrollment, agent: keyB } }),
    );
    const altered = await install(b, 'altered.json');
    expect(altered.code).toBe(64);
    expect(altered.stderr).toMatch(/signature on the certificate does not verify/);
    expect(existsSync(join(b, 'enrollment.json'))).toBe(false);

    const installed = await install(a, 'a.json');
    expect(installed.code, installed.stderr).toBe(0);
    expect(installed.stdout).toMatch(/^enrolled: agent /);
    expect(JSON.parse(readFileSync(join(a, 'enrollment.json'), 'utf8'))).toEqual(certificate);
  });

  it('owner enroll refuses what is not an agent key or a group: one line, exit 64', async () => {
    for (const args of [
      ['--group', 'eu-west', 'not-a-key'],
      ['--group', 'EU WEST', 'a'.repeat(64)],
    ]) {
      const refused = await cli(['owner', 'enroll', '--key', 'owner-eu.key', ...args], {
        cwd: dir,
      });
      expect(refused.code, refused.stderr).toBe(64);
      expectOneLine(refused.stderr);
    }
  });
});
