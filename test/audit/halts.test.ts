import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { renderReportHtml } from '../../src/audit/html.js';
import type { FairnessReport, ReleaseReport } from '../../src/audit/report.js';
import { runAudit } from '../../src/audit/run.js';
import { reportLines } from '../../src/audit/text.js';
import { tickAt } from '../../src/common/tick.js';
import { parseLeaf } from '../../src/log/leaves.js';
import { PublisherClient, haltRelease } from '../../src/publish/client.js';
import { type Fixture, SECOND, createFixture, listen, readRoot } from '../helpers/repo.js';

// Halts as every reader of the log reports them: the audit's JSON and text, its HTML page and the
// node's dashboard (page and JSON). A release is withdrawn at the tick its halt activates.

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup() {
  const fx = await createFixture();
  cleanup.push(() => fx.close());
  await fx.addVendor('acme');
  await fx.node.appDeps.declareGroups!(['eu-west']);
  const http = await listen(fx.node.app);
  cleanup.push(() => http.close());
  const vendor = fx.vendors.get('acme')!;
  const halt = (version: string) =>
    haltRelease({
      vendor: 'acme',
      version,
      client: new PublisherClient(http.url, vendor.token),
      vendorKey: vendor.key,
      now: () => fx.clock.now(),
    });
  return { fx, url: http.url, halt };
}

/** Time moves second by second to `until`, the node logging each activation at its tick. */
async function runUntil(fx: Fixture, until: number): Promise<void> {
  for (let t = fx.clock.now(); t <= until; t += SECOND) {
    fx.clock.set(t);
    await fx.node.evidence.activations();
  }
  await fx.node.sequencer.idle();
}

/** The index of the activation leaf of acme's metadata `version`. */
async function activationLeaf(fx: Fixture, version: number): Promise<number> {
  const { size } = await fx.node.log.head();
  const entries = await fx.node.log.entries(0, size);
  const found = entries.find((e) => {
    const leaf = parseLeaf(Buffer.from(e.data, 'utf8'));
    return leaf.type === 'release.activated' && leaf.metadata_version === version;
  });
  if (!found) throw new Error(`acme/${version} was not activated`);
  return found.index;
}

/** Every reading: the audit (JSON, text, HTML) and the node's dashboard (JSON, page). */
async function readings(fx: Fixture, url: string) {
  const outcome = await runAudit({
    server: url,
    stateDir: mkdtempSync(join(tmpdir(), 'fairpatch-audit-')),
    logKey: fx.node.logVerifierKey,
    root: readRoot(fx.keysDir),
    now: fx.clock.now(),
  });
  const audit = outcome.report!;
  const dashboard = (await (await fetch(`${url}/api/v1/report`)).json()) as FairnessReport;
  const page = await (await fetch(`${url}/`)).text();
  const html = await renderReportHtml(audit, 'audit', '');
  const row = (doc: string, id: string) =>
    new RegExp(`<tr data-release="${id}">(.*?)</tr>`).exec(doc)?.[1]?.replace(/<[^>]+>/g, ' ');
  return {
    audit,
    dashboard,
    release: (id: string) => ({
      json: [audit, dashboard].map((r) => r.releases.find((x) => x.id === id) as ReleaseReport),
      text: reportLines(audit).find((l) => l.startsWith(`  ${id} `)),
      html: [row(html, id), row(page, id)],
    }),
  };
}

describe('halts, reported right everywhere', () => {
  it('a live release halted over HTTP: withdrawn at the halt’s tick, by its leaf, in JSON, text, HTML and the dashboard', async () => {
    const { fx, url, halt } = await setup();
    const releaseAt = fx.clock.now() + 30 * SECOND;
    await fx.stage('acme', {}, [await fx.artifact('agent.sh', 'fix')], releaseAt);
    const liveTick = tickAt(fx.node.repo.config, releaseAt);
    await runUntil(fx, releaseAt + 2 * SECOND);

    const halted = await halt('2.4.1');
    await runUntil(fx, Date.parse(halted.activatesAt) + 2 * SECOND);
    const leaf = await activationLeaf(fx, halted.version);

    const { release } = await readings(fx, url);
    const r = release('acme/2');
    for (const json of r.json)
      expect(json).toMatchObject({
        halted: true,
        activation: { tick: liveTick },
        withdrawn: {
          tick: halted.activationTick,
          metadataVersion: halted.version,
          leaf,
          beforeLive: false,
        },
      });
    expect(r.text).toContain(
      `halted: withdrawn at ${new Date(Date.parse(halted.activatesAt)).toISOString()} (tick ${halted.activationTick}) by acme/${halted.version} (leaf ${leaf})`,
    );
    for (const html of r.html)
      expect(html).toContain(
        `halted at tick ${halted.activationTick} by acme/${halted.version} (leaf ${leaf})`,
      );
  });

  it('a halt sharing its tick with a pending release: the live one is withdrawn, the pending one goes live, no proof against anyone', async () => {
    const { fx, url, halt } = await setup();
    const firstAt = fx.clock.now() + 30 * SECOND;
    await fx.stage('acme', {}, [await fx.artifact('agent.sh', 'fix')], firstAt);
    await runUntil(fx, firstAt + 2 * SECOND);
    const pendingAt = fx.clock.now() + 120 * SECOND;
    await fx.stage(
      'acme',
      { version: '2.5.0', applies_to: '<2.5.0' },
      [await fx.artifact('agent-2.5.0.sh', 'next')],
      pendingAt,
    );
    const pendingTick = tickAt(fx.node.repo.config, pendingAt);
    // The halt keeps the pending release's targets, so it cannot take effect before their tick.
    const halted = await halt('2.4.1');
    expect(halted.activationTick).toBe(pendingTick);
    // Past the auditor's grace for a missing activation.
    await runUntil(fx, pendingAt + 70 * SECOND);
    const leaf = await activationLeaf(fx, halted.version);

    const { audit, dashboard, release } = await readings(fx, url);
    const live = release('acme/2');
    for (const json of live.json)
      expect(json).toMatchObject({
        halted: true,
        withdrawn: { tick: pendingTick, metadataVersion: halted.version, leaf, beforeLive: false },
      });
    expect(live.text).toContain(`(tick ${pendingTick}) by acme/${halted.version} (leaf ${leaf})`);
    for (const html of live.html) expect(html).toContain(`halted at tick ${pendingTick}`);

    const pending = release('acme/3');
    for (const json of pending.json) {
      expect(json).toMatchObject({
        halted: false,
        carriedBy: halted.version,
        activation: { tick: pendingTick, leaf },
        targets: ['acme/agent-2.5.0.sh'],
      });
      expect(json.withdrawn).toBeUndefined();
    }
    expect(pending.text).toContain(`(tick ${pendingTick}, +0 ms, inside acme/${halted.version})`);
    for (const html of pending.html) expect(html).not.toContain('halted');
    for (const report of [audit, dashboard])
      expect(report.findings.filter((f) => f.class === 'proof')).toEqual([]);
  });
});
