import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { parseVerifierKey } from '../../src/log/note.js';
import { verifySaltEvidence } from '../../src/rollout/evidence.js';
import { cohort, inShare, releaseId } from '../../src/rollout/lottery.js';
import { type Fixture, MINUTE, SECOND, createFixture, listen } from '../helpers/repo.js';
import { startWitness } from '../helpers/witness.js';
import { until } from '../helpers/until.js';

// An agent decides its own eligibility for a staged release from signed bytes: the plan in the
// vendor's metadata, the tick of the served timestamp and the salt it verifies itself. It installs
// when its cohort is in the stage's share, waits otherwise, and signs what it decided into its receipt.

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const HOUR = 60 * MINUTE;

describe('an agent and a staged release', () => {
  it('installs at the stage its cohort falls in, not before, and says so in its receipts', async () => {
    const fx: Fixture = await createFixture();
    cleanup.push(() => fx.close());
    const logKey = fx.node.logVerifierKey;
    const w = await startWitness(fx.keysDir, fx.clock, {
      logs: [{ url: 'unused', verifier: parseVerifierKey(logKey) }],
    });
    cleanup.push(() => w.close());
    const node = await fx.openNode({ witnesses: [w.url] });
    const http = await listen(node.app);
    cleanup.push(() => http.close());
    await fx.addVendor('acme');
    const artifact = await fx.artifact('acme-agent-2.4.1.sh', '#!/bin/sh\necho patched\n');
    const releaseAt = fx.clock.now() + MINUTE;
    await node.repo.stageVendorMetadata(
      'acme',
      await fx.release(
        'acme',
        {
          applies_to: '<2.4.1',
          rollout: {
            stages: [
              { percent: 30, after: '0s' },
              { percent: 100, after: '1h' },
            ],
          },
        },
        [artifact],
        releaseAt,
      ),
    );
    const lines: string[] = [];
    const agent = (checkpoint: boolean) =>
      new Agent(
        {
          server: http.url,
          group: 'eu-west',
          root: join(fx.keysDir, '1.root.json'),
          stateDir: mkdtempSync(join(tmpdir(), 'fp-rollout-agent-')),
          vendor: 'acme',
          product: 'acme-agent',
          platform: 'linux-x64',
          currentVersion: '2.3.0',
          channel: 'stable',
          intervalMs: 10 * SECOND,
          ...(checkpoint
            ? { checkpoint: { logKey, witnesses: [w.witness.verifierKey], threshold: 1 } }
            : {}),
        },
        {
          clock: fx.clock,
          log: (l) => lines.push(l),
          fetcher: { attempts: 2, backoffMs: 1, timeoutMs: 5000 },
        },
      );
    const agents = Array.from({ length: 20 }, () => agent(true));
    const blind = agent(false); // no log key: cannot verify a salt, so waits for the 100 % stage

    fx.clock.set(releaseAt);
    await node.evidence.activations();
    const target = { path: 'acme/acme-agent-2.4.1.sh', sha256: artifact.sha256 };
    const release = releaseId('acme', 'acme-agent', '2.4.1');
    const { salt } = await until('the activation is cosigned', async () => {
      const response = await fetch(
        `${http.url}/log/rollout-salt?target=${encodeURIComponent(target.path)}`,
      );
      if (response.status !== 200) return undefined;
      try {
        return verifySaltEvidence({
          body: await response.json(),
          release,
          target,
          log: parseVerifierKey(logKey),
          witnesses: [parseVerifierKey(w.witness.verifierKey)],
        });
      } catch {
        return undefined;
      }
    });
    const expected = agents.map((a) => inShare(cohort(release, salt, a.identity.publicKey), 3000));

    const first = await Promise.all(agents.map((a) => a.cycle()));
    expect(first.map((r) => r.outcome)).toEqual(
      expected.map((e) => (e ? 'installed' : 'up-to-date')),
    );
    expect(await blind.cycle()).toMatchObject({
      outcome: 'up-to-date',
      reason: expect.stringMatching(
        /stage 1 of 2 \(30%\); the lottery's salt is not available yet/,
      ),
    });
    const waiting = first.find((r) => r.outcome === 'up-to-date');
    expect(waiting).toMatchObject({
      reason: expect.stringMatching(/not in yet; the next stage opens at tick \d+/),
    });
    // Each agent signed what it decided into the run's receipt, and the node took the receipts.
    expect(lines.filter((l) => /not submitted/.test(l))).toEqual([]);
    for (const [i, a] of agents.entries())
      expect(a.receipts.all().at(-1)!.signed.observation.rollout).toMatchObject({
        release,
        stage: 0,
        percent_bp: 3000,
        eligible: expected[i],
      });

    // One hour later everyone is in, at one tick, with or without a log key.
    fx.clock.set(releaseAt + HOUR);
    const second = await Promise.all(agents.map((a) => a.cycle()));
    expect(second.map((r) => r.outcome)).toEqual(
      expected.map((e) => (e ? 'up-to-date' : 'installed')),
    );
    expect(await blind.cycle()).toMatchObject({ outcome: 'installed' });
  });
});
