import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { installEnrollment } from '../../src/agent/enrollment-file.js';
import { runAudit } from '../../src/audit/run.js';
import { tickAt } from '../../src/common/tick.js';
import { parseVerifierKey } from '../../src/log/note.js';
import { PublisherClient, rolloutAction } from '../../src/publish/client.js';
import { GroupOwners } from '../helpers/owners.js';
import { MINUTE, SECOND, createFixture, listen, readRoot } from '../helpers/repo.js';
import { until } from '../helpers/until.js';
import { startWitness } from '../helpers/witness.js';

// Pause, resume and advance: the vendor signs each as a control target of its own metadata, so it
// is logged (commitment, then activation) and goes live at one tick for every group. Agents and the
// auditor replay the same actions over the signed plan and agree on every stage's tick.

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const HOUR = 60 * MINUTE;
const GROUP = 'eu-west';

describe('a vendor pauses, resumes and advances its staged release', () => {
  it('holds the next stage while paused, resumes with the time left, advances at one tick; the audit agrees', async () => {
    const fx = await createFixture();
    cleanup.push(() => fx.close());
    const logKey = fx.node.logVerifierKey;
    const w = await startWitness(fx.keysDir, fx.clock, {
      logs: [{ url: 'unused', verifier: parseVerifierKey(logKey) }],
    });
    cleanup.push(() => w.close());
    const node = await fx.openNode({ witnesses: [w.url] });
    const http = await listen(node.app);
    cleanup.push(() => http.close());
    const owners = new GroupOwners([GROUP], () => fx.clock.now());
    await node.appDeps.declareGroups!([GROUP], owners.owners);
    const { key, token } = await fx.addVendor('acme');
    const vendor = new PublisherClient(http.url, token);
    const artifact = await fx.artifact('acme-agent-2.4.1.sh', '#!/bin/sh\necho patched\n');
    const T0 = fx.clock.now() + MINUTE;
    await node.repo.stageVendorMetadata(
      'acme',
      await fx.release(
        'acme',
        {
          applies_to: '<2.4.1',
          rollout: {
            stages: [
              { percent: 10, after: '0s' },
              { percent: 50, after: '1h' },
              { percent: 100, after: '2h' },
            ],
          },
        },
        [artifact],
        T0,
      ),
    );
    const lines: string[] = [];
    const agents = Array.from({ length: 30 }, () => {
      const stateDir = mkdtempSync(join(tmpdir(), 'fp-actions-agent-'));
      const agent = new Agent(
        {
          server: http.url,
          group: GROUP,
          root: join(fx.keysDir, '1.root.json'),
          stateDir,
          vendor: 'acme',
          product: 'acme-agent',
          platform: 'linux-x64',
          currentVersion: '2.3.0',
          channel: 'stable',
          intervalMs: 10 * SECOND,
          checkpoint: { logKey, witnesses: [w.witness.verifierKey], threshold: 1, everyMs: HOUR },
        },
        {
          clock: fx.clock,
          log: (l) => lines.push(l),
          fetcher: { attempts: 1, backoffMs: 1, timeoutMs: 5000 },
        },
      );
      const cert = owners.certify(GROUP, agent.identity.publicKey);
      installEnrollment(stateDir, JSON.stringify(cert), {
        publicKey: agent.identity.publicKey,
        group: GROUP,
      });
      return agent;
    });
    const at = async (ms: number) => {
      fx.clock.set(ms);
      await node.evidence.activations();
    };
    const act = async (action: 'pause' | 'resume' | 'advance', effective: number) => {
      await at(effective - MINUTE);
      await rolloutAction({
        vendor: 'acme',
        product: 'acme-agent',
        version: '2.4.1',
        action,
        releaseAt: effective,
        client: vendor,
        vendorKey: key,
        now: () => fx.clock.now(),
      });
      await at(effective);
    };
    const stagesSigned = async () => {
      await Promise.all(agents.map((a) => a.cycle()));
      return new Set(agents.map((a) => a.receipts.all().at(-1)!.signed.observation.rollout?.stage));
    };

    await at(T0);
    await until('the salt is cosigned', async () => {
      const r = await node.app.request('/log/rollout-salt?target=acme%2Facme-agent-2.4.1.sh');
      const body =
        r.status === 200
          ? ((await r.json()) as { checkpoints: Array<{ note: string }> })
          : undefined;
      return body?.checkpoints.some((c) => c.note.includes('\u2014 witness/')) ? true : undefined;
    });
    expect(await stagesSigned()).toEqual(new Set([0]));

    await act('pause', T0 + 30 * MINUTE);
    // An hour in, stage 2 would have opened; paused, everyone is still at stage 1.
    await at(T0 + HOUR + SECOND);
    const paused = await stagesSigned();
    expect([...paused].filter((s) => s !== undefined)).toEqual([0]);
    expect(lines.some((l) => /the vendor paused the rollout/.test(l))).toBe(true);

    // Resumed at 90 min, with the 30 min that were left: stage 2 opens at 2 h, not before.
    await act('resume', T0 + 90 * MINUTE);
    await at(T0 + 2 * HOUR - SECOND);
    expect([...(await stagesSigned())].filter((s) => s !== undefined)).toEqual([0]);
    await at(T0 + 2 * HOUR);
    expect([...(await stagesSigned())].filter((s) => s !== undefined)).toEqual([1]);

    // Advanced at 2 h 30: everyone is in at that tick, half an hour before the plan's time.
    await act('advance', T0 + 150 * MINUTE);
    await Promise.all(agents.map((a) => a.cycle()));
    expect(agents.every((a) => a.installed()?.version === '2.4.1')).toBe(true);

    // The auditor replays the same signed actions: the same stage ticks, nobody behind, FAIR.
    await node.sequencer.idle();
    const { size } = await node.log.head();
    await until('the whole log is cosigned', async () => {
      const note = await (await node.app.request('/log/checkpoint')).text();
      return Number(note.split('\n')[1]) === size ? true : undefined;
    });
    const outcome = await runAudit({
      server: http.url,
      stateDir: mkdtempSync(join(tmpdir(), 'fp-actions-audit-')),
      logKey,
      root: readRoot(fx.keysDir),
      now: fx.clock.now(),
      cosigners: { keys: [w.witness.verifierKey], threshold: 1 },
      witnessLogs: [{ url: w.url, vkey: w.witness.verifierKey }],
    });
    const tick = (ms: number) => tickAt(node.repo.config, ms);
    const rollout = outcome.report!.releases.find((r) => r.rollout)!.rollout!;
    expect(rollout.stages.map((s) => s.tick)).toEqual([
      tick(T0),
      tick(T0 + 2 * HOUR),
      tick(T0 + 150 * MINUTE),
    ]);
    expect(outcome.report!.findings.filter((f) => f.kind.startsWith('rollout-'))).toEqual([]);
    expect(outcome.report!.verdict).toBe('FAIR');
  }, 120_000);
});
