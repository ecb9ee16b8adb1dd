import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { openCheckpoint } from '../../src/log/checkpoint.js';
import { cosignatureKeyId, verifiedCosigners } from '../../src/log/cosignature.js';
import { parseVerifierKey } from '../../src/log/note.js';
import { type Fixture, SECOND, createFixture, listen } from '../helpers/repo.js';
import { launchBrowser } from '../helpers/browser.js';
import { ReceiptCollector } from '../helpers/receipts.js';
import { declareVouched } from '../helpers/owners.js';
import { startWitness } from '../helpers/witness.js';
import { until } from '../helpers/until.js';

let fx: Fixture;
let server: { url: string; close(): Promise<void> };
let browser: Browser;

beforeAll(async () => {
  fx = await createFixture();
  await fx.addVendor('acme');
  const owners = await declareVouched(fx, ['eu-west', 'us-east', 'ap-south']);
  const releaseAt = fx.clock.now() + 40 * SECOND;
  await fx.stage('acme', {}, [await fx.artifact('agent.sh', 'x')], releaseAt);
  const collector = new ReceiptCollector(fx.clock, 3, owners);
  for (let t = fx.clock.now(); t <= releaseAt + 10 * SECOND; t += SECOND) {
    fx.clock.set(t);
    await fx.node.evidence.activations();
    for (const [i, group] of ['eu-west', 'us-east', 'ap-south'].entries())
      if ((t / SECOND + i) % 3 === 0) await collector.poll(fx.node.app, group);
  }
  // A second release, scheduled an hour ahead: shown as scheduled, with nothing of its contents.
  await fx.stage(
    'acme',
    { product: 'acme-agent', version: '2.5.0', applies_to: '<2.5.0' },
    [await fx.artifact('agent-2.5.0.sh', 'y')],
    fx.clock.now() + 3_600_000,
  );
  // A stock client polling without a group: counted in a bucket (groups are declared: `_undeclared`).
  expect((await fx.node.app.request('/metadata/timestamp.json')).status).toBe(200);
  await fx.node.evidence.rollup();
  await collector.submit(fx.node.app);
  server = await listen(fx.node.app);
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await fx?.close();
});

describe('the dashboard in a real browser', () => {
  it("shows the verdict and a timeline chart of each group's first delivery for the release", async () => {
    const page = await browser.newPage();
    const response = await page.goto(server.url + '/');
    expect(response?.status()).toBe(200);
    expect(await page.getByTestId('verdict').textContent()).toBe('FAIR');
    expect(await page.getByTestId('explanation').textContent()).toMatch(
      /^FAIR: every release went live at its tick.*Delivery is measured by the agents' own signed receipts/,
    );
    // Releases by product and version; the scheduled one sealed.
    expect(await page.locator('tr[data-release="acme/2"]').textContent()).toMatch(
      /acme-agent 2\.4\.1 \(acme\/2\)live from tick/,
    );
    const scheduled = await page.locator('tr[data-release="acme/3"]').textContent();
    expect(scheduled).toMatch(/scheduled \(contents sealed until its tick\)/);
    expect(scheduled).not.toMatch(/2\.5\.0/);
    expect(await page.getByTestId('timeline-acme/3').count()).toBe(0);
    const chart = page.getByTestId('timeline-acme/2');
    expect(await chart.isVisible()).toBe(true);
    expect(
      await chart
        .locator('g[data-group]')
        .evaluateAll((gs) => gs.map((g) => g.getAttribute('data-group'))),
    ).toEqual(['ap-south', 'eu-west', 'us-east']);
    expect(await chart.locator('circle').count()).toBe(3);
    // A time axis in seconds after release_at.
    expect(await chart.locator('text').allTextContents()).toEqual(
      expect.arrayContaining(['release_at', '0 s']),
    );
    // No witness is configured on this node: the page says so rather than showing nothing.
    expect(await page.getByTestId('cosigners-none').textContent()).toMatch(
      /No witness has cosigned this checkpoint/,
    );
    expect(Number(await page.getByTestId('checkpoint-size').textContent())).toBe(
      (await fx.node.log.head()).size,
    );
    const box = await chart.boundingBox();
    expect(box!.width).toBeGreaterThan(500);
    await page.screenshot({
      path: process.env.DASHBOARD_SCREENSHOT ?? `${fx.dir}/dashboard.png`,
      fullPage: true,
    });
  });
});

describe('the dashboard says what it measures', () => {
  it('declared groups only (buckets named apart), vouched agents, what each release fixes, whose receipts', async () => {
    const page = await browser.newPage();
    await page.goto(server.url + '/');
    const rows = await page
      .locator('tr[data-group-row]')
      .evaluateAll((rs) => rs.map((r) => r.getAttribute('data-group-row')));
    expect(rows).toEqual(['ap-south', 'eu-west', 'us-east']);
    expect(await page.locator('tr[data-group-row="eu-west"]').textContent()).toMatch(
      /^eu-west30from declared by the operator.*, quorum 1/,
    );
    expect(await page.getByTestId('unattributed').textContent()).toMatch(
      /^Polls in no group: _undeclared 1 \(polls under no declared group/,
    );
    expect(await page.getByTestId('fixes-acme/2').textContent()).toBe('high: CVE-2026-31337');
    expect(await page.getByTestId('delivery-acme/2').textContent()).toMatch(
      /^(every group within \d+\.\d s of the tick|groups received it up to )/,
    );
    // 3 agents in each of 3 groups, every receipt through the log.
    const sources = page.locator('[data-testid="evidence"] tr[data-source]');
    expect(await sources.count()).toBe(1);
    expect(await sources.locator('td').allTextContents()).toEqual(['log', expect.any(String), '9']);
    await page.close();
  });
});

describe('the dashboard of a node with a witness (serve --witness)', () => {
  it('names the witness that cosigned the latest checkpoint, its key id and when', async () => {
    const logVerifier = parseVerifierKey(fx.node.logVerifierKey);
    const w = await startWitness(fx.keysDir, fx.clock, {
      logs: [{ url: 'unused', verifier: logVerifier }],
    });
    const node = await fx.openNode({ witnesses: [w.url] });
    const http = await listen(node.app);
    try {
      const cosigner = parseVerifierKey(w.witness.verifierKey);
      // The node asks its witness in the background: wait (bounded) for the served checkpoint to carry
      // a cosignature that verifies with the witness's own key.
      const note = await until('a checkpoint cosigned by the witness', async () => {
        const served = await (await fetch(`${http.url}/log/checkpoint`)).text();
        return verifiedCosigners(served, [cosigner]).length === 1 && served;
      });
      const [cosigned] = verifiedCosigners(note, [cosigner]);
      expect(cosigned?.name).toBe('witness/w1');
      const { size } = openCheckpoint(note, logVerifier);

      const page = await browser.newPage();
      expect((await page.goto(http.url + '/'))?.status()).toBe(200);
      expect(Number(await page.getByTestId('checkpoint-size').textContent())).toBe(size);
      const row = page.locator('tr[data-cosigner="witness/w1"]');
      expect(await row.locator('td').allTextContents()).toEqual([
        'witness/w1',
        cosignatureKeyId('witness/w1', cosigner.publicKey).toString('hex'),
        new Date(cosigned!.timestamp * 1000).toISOString(),
      ]);
      expect(await page.getByTestId('cosigners-none').count()).toBe(0);
      await page.close();
    } finally {
      await http.close();
      await w.close(); // the node is closed with the fixture
    }
  });
});
