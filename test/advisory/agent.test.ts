import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { cli } from '../helpers/cli.js';
import { fullAdvisory } from './samples.js';
import { type AdvisoryWorld, advisoryWorld, publishWithAdvisory } from './world.js';

const SAID = {
  id: fullAdvisory.id,
  title: fullAdvisory.title,
  cves: ['CVE-2026-4242', 'CVE-2026-4243'],
};

let w: AdvisoryWorld;
beforeEach(async () => {
  w = await advisoryWorld();
});
afterEach(() => w.close());

describe('an agent installing a fix published with its advisory', () => {
  it('logs the advisory’s title and CVEs, and its outcome names them', async () => {
    const result = await publishWithAdvisory(w);
    w.fx.clock.set(Date.parse(result.activatesAt));
    const lines: string[] = [];
    const agent = new Agent(
      {
        server: w.servers[1]!.url,
        group: 'eu-west',
        root: join(w.fx.keysDir, '1.root.json'),
        stateDir: mkdtempSync(join(tmpdir(), 'fairpatch-agent-')),
        vendor: 'acme',
        product: 'acme-agent',
        platform: 'linux-x64',
        currentVersion: '2.3.0',
        channel: 'stable',
        intervalMs: 60_000,
      },
      { clock: w.fx.clock, log: (l) => lines.push(l), fetcher: { attempts: 1, backoffMs: 1 } },
    );
    const outcome = await agent.cycle();
    expect(outcome).toMatchObject({ outcome: 'installed', version: '2.4.1', advisory: SAID });
    expect(lines).toContain(`advisory ${SAID.id}: ${SAID.title} (CVE-2026-4242, CVE-2026-4243)`);
  });

  it('fairpatch agent --once --json reports them', async () => {
    const result = await publishWithAdvisory(w);
    w.fx.clock.set(Date.parse(result.activatesAt));
    const run = await cli([
      'agent',
      '--server',
      w.servers[0]!.url,
      '--group',
      'us-east',
      '--root',
      join(w.fx.keysDir, '1.root.json'),
      '--state',
      mkdtempSync(join(tmpdir(), 'fairpatch-agent-')),
      '--product',
      'acme/acme-agent',
      '--platform',
      'linux-x64',
      '--current-version',
      '2.3.0',
      '--once',
      '--json',
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const json = run.stdout.split('\n').find((l) => l.startsWith('{'));
    expect(JSON.parse(json ?? 'null')).toMatchObject({
      outcome: 'installed',
      version: '2.4.1',
      advisory: SAID,
    });
  });
});
