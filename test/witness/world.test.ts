import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit/run.js';
import type { ExternalEvidence } from '../../src/audit/observations.js';
import { fetchWitnessEvidence } from '../../src/audit/witness.js';
import { tickAt } from '../../src/common/tick.js';
import { SimAgent } from '../helpers/receipts.js';
import { declareVouched } from '../helpers/owners.js';
import { SECOND, createFixture, listen } from '../helpers/repo.js';
import { postReceipts, readRoot, startWitness } from '../helpers/witness.js';

// A server that swallows one group's receipts (its edge answers 201 and drops them) while withholding
// the release from that group. The agents also report to a witness the operator does not run: with
// the witness's log the audit convicts, citing the witness; without it the audit cannot verify that
// group, and is never FAIR.

const GROUPS = ['eu-west', 'us-east', 'ap-south'];
const PER_GROUP = 6;
const INTERVALS = [10, 15, 20];
const VICTIM = 'ap-south';

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe("a server swallowing one group's receipts, agents also reporting to a witness", () => {
  it('audit with the witness: UNFAIR naming that group, citing the witness; without it: cannot verify that group (exit 2)', async () => {
    const fx = await createFixture();
    cleanup.push(() => fx.close());
    const w = await startWitness(fx.keysDir, fx.clock);
    cleanup.push(() => w.close());
    await fx.addVendor('acme');
    const owners = await declareVouched(fx, GROUPS);
    const releaseAt = fx.clock.now() + 30 * SECOND;
    await fx.node.repo.stageVendorMetadata(
      'acme',
      await fx.release('acme', {}, [await fx.artifact('agent.sh', 'fix')], releaseAt),
    );
    const activation = tickAt(fx.node.repo.config, releaseAt);

    // The edge replays the last pre-release statement to the victim (it holds no keys).
    const edge = new Hono();
    edge.get('/g/:group/metadata/timestamp.json', (c) =>
      c.req.param('group') === VICTIM && fx.node.repo.currentTick() >= activation
        ? c.body(new Uint8Array(Buffer.from(fx.node.repo.view.timestampAt(activation - 1))), 200, {
            'content-type': 'application/json',
          })
        : fx.node.app.fetch(c.req.raw),
    );
    edge.post('/api/v1/receipts', async (c) => {
      const body = (await c.req.json()) as { receipts: Array<{ observation: { group: string } }> };
      if (body.receipts.some((r) => r.observation.group === VICTIM))
        return c.json({ accepted: body.receipts.length, newDocuments: 0, logIndex: -1 }, 201);
      return fx.node.app.fetch(
        new Request(c.req.raw.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }),
      );
    });
    edge.all('*', (c) => fx.node.app.fetch(c.req.raw));
    const http = await listen(edge);
    cleanup.push(() => http.close());
    const via = {
      request: (path: string, init?: RequestInit) => fetch(`${http.url}${path}`, init),
    };

    const agents = GROUPS.flatMap((group) =>
      Array.from({ length: PER_GROUP }, () => new SimAgent(group, fx.clock).enrolledBy(owners)),
    );
    for (let t = releaseAt - 15 * SECOND; t <= releaseAt + 50 * SECOND; t += SECOND) {
      fx.clock.set(t);
      await fx.node.evidence.activations();
      const k = fx.node.repo.currentTick();
      await Promise.all(
        agents.map(async (agent, i) => {
          if (k === activation)
            await agent.poll(via, undefined, { pushed: agent.group !== VICTIM });
          else if ((k + i) % (INTERVALS[i % INTERVALS.length] as number) === 0)
            await agent.poll(via, undefined, { pushed: false });
        }),
      );
    }
    for (const agent of agents) {
      // Every agent delivers to the server (through the edge) and to the witness.
      const sent = await via.request('/api/v1/receipts', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(agent.batch()),
      });
      expect(sent.status).toBe(201);
      expect((await postReceipts(w.url, agent.batch())).status).toBe(201);
    }
    await fx.node.evidence.rollup();
    await fx.node.sequencer.idle();

    const server = await listen(fx.node.app);
    cleanup.push(() => server.close());
    const audit = (external: ExternalEvidence[]) =>
      runAudit({
        server: server.url,
        stateDir: mkdtempSync(join(tmpdir(), 'fp-witness-world-')),
        logKey: fx.node.logVerifierKey,
        root: readRoot(fx.keysDir),
        now: fx.clock.now(),
        external,
        options: { quorum: 3 },
      });

    const without = await audit([]);
    expect(without.exitCode).toBe(2);
    expect(without.report!.verdict).not.toBe('FAIR');
    expect(
      without.report!.findings.filter((f) => f.class === 'cannot-verify').map((f) => f.group),
    ).toEqual([VICTIM]);

    const evidence = await fetchWitnessEvidence(w.url, readFileSync(w.vkeyPath, 'utf8').trim());
    expect(evidence.source).toBe(`witness ${w.url}`);
    const withWitness = await audit([evidence]);
    expect(withWitness.exitCode).toBe(1);
    const unfair = withWitness.report!.findings.filter((f) => f.unfair);
    expect([...new Set(unfair.map((f) => f.group))]).toEqual([VICTIM]);
    expect(unfair.some((f) => f.sources?.includes(`witness ${w.url}`))).toBe(true);
  });
});
