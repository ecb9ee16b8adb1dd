import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha512File } from '../../src/advisory/distribution.js';
import { runAudit } from '../../src/audit/run.js';
import { renderReportHtml } from '../../src/audit/html.js';
import { reportLines } from '../../src/audit/text.js';
import { verify } from '../../src/tuf/keys.js';
import { DIALECTS } from '../helpers/dialects.js';
import { readRoot } from '../helpers/repo.js';
import { fullAdvisory } from './samples.js';
import { csafErrors, osvErrors } from './validators.js';
import {
  type AdvisoryWorld,
  advisoryPaths,
  advisoryWorld,
  answer,
  publishWithAdvisory,
} from './world.js';

// Issue 29's "done when": a fix published with its advisory, two nodes over one database, real
// HTTP, the test's own clock. Before the tick every advisory path answers exactly as for an
// advisory that does not exist and the log holds only a commitment; at the tick both nodes serve
// the fix, a validating CSAF document and a validating OSV record; the audit says both went public
// at the same tick.

const ID = fullAdvisory.id;
const MISSING = 'ACME-2026-9999';

describe.each(DIALECTS)('%s: an advisory published with its fix', (dialect) => {
  let w: AdvisoryWorld;
  beforeEach(async () => {
    w = await advisoryWorld(dialect);
  });
  afterEach(() => w.close());

  it('is 404 on every path, as a missing one, before the tick; at the tick every node serves the fix and validating documents; the audit says one tick', async () => {
    const result = await publishWithAdvisory(w);
    expect(result.advisory).toEqual({ id: ID, target: 'acme/acme-2026-0001.advisory.json' });
    const tickMs = Date.parse(result.activatesAt);
    const year = new Date(tickMs).getUTCFullYear();
    const fixTarget = result.targets[0]!;
    const metadata = `/metadata/${result.version}.acme.json`;

    // The last millisecond before the tick.
    w.fx.clock.set(tickMs - 1);
    for (const server of w.servers) {
      const missing = await Promise.all(
        advisoryPaths(MISSING, year).map((p) => answer(server.url + p)),
      );
      const pending = await Promise.all(advisoryPaths(ID, year).map((p) => answer(server.url + p)));
      for (const [i, got] of pending.entries()) {
        expect(got.status).toBe(404);
        expect(got.headers).toEqual(missing[i]!.headers);
        expect(got.body.toString()).toEqual(missing[i]!.body.toString());
      }
      expect(JSON.parse((await answer(`${server.url}/osv/index.json`)).body.toString())).toEqual(
        [],
      );
      const feed = JSON.parse(
        (
          await answer(`${server.url}/.well-known/csaf/clear/csaf-feed-tlp-clear.json`)
        ).body.toString(),
      );
      expect(feed.feed.entry).toEqual([]);
      expect((await answer(server.url + metadata)).status).toBe(404);
    }
    // The public log holds a commitment and nothing of the advisory.
    const leaves = (await w.fx.node.log.entries(0, 10_000)).map((e) => e.data).join('\n');
    expect(leaves).toContain('release.scheduled');
    for (const secret of [ID, 'CVE-2026-4242', fullAdvisory.title, 'advisory.json'])
      expect(leaves).not.toContain(secret);

    // The tick.
    w.fx.clock.set(tickMs);
    const documents: Buffer[] = [];
    const records: Buffer[] = [];
    const vendorKey = Buffer.from(w.fx.vendors.get('acme')!.key.publicKey).toString('hex');
    for (const server of w.servers) {
      // The fix: the vendor's metadata carrying it (and the advisory's target), and its bytes.
      const served = JSON.parse((await answer(server.url + metadata)).body.toString()) as {
        signed: { targets: Record<string, { hashes: { sha256: string } }> };
      };
      expect(Object.keys(served.signed.targets).sort()).toEqual([
        'acme/acme-2026-0001.advisory.json',
        fixTarget,
      ]);
      const sha = served.signed.targets[fixTarget]!.hashes.sha256;
      const artifact = await answer(`${server.url}/targets/acme/${sha}.fix.sh`);
      expect(artifact.status).toBe(200);
      expect(artifact.body.toString()).toBe('echo acme fixed\n');

      const [docPath, shaPath, sigPath, osvPath] = advisoryPaths(ID, year) as [
        string,
        string,
        string,
        string,
      ];
      const doc = await answer(server.url + docPath);
      expect(doc.status).toBe(200);
      const csaf = JSON.parse(doc.body.toString());
      expect(await csafErrors(csaf)).toEqual([]);
      expect(csaf.document.tracking.initial_release_date).toBe(
        new Date(tickMs).toISOString().replace('.000Z', 'Z'),
      );
      documents.push(doc.body);
      expect((await answer(server.url + shaPath)).body.toString()).toBe(
        sha512File(doc.body, 'acme-2026-0001.json'),
      );
      const sig = JSON.parse((await answer(server.url + sigPath)).body.toString());
      expect(verify(vendorKey, doc.body, sig.sig)).toBe(true);

      const osv = await answer(server.url + osvPath);
      expect(osv.status).toBe(200);
      const record = JSON.parse(osv.body.toString());
      expect(osvErrors(record)).toEqual([]);
      expect(record.published).toBe(csaf.document.tracking.initial_release_date);
      records.push(osv.body);
      expect(JSON.parse((await answer(`${server.url}/osv/index.json`)).body.toString())).toEqual([
        { id: `x_${ID}`, aliases: ['CVE-2026-4242', 'CVE-2026-4243'], modified: record.modified },
      ]);
      const provider = JSON.parse(
        (await answer(`${server.url}/.well-known/csaf/provider-metadata.json`)).body.toString(),
      );
      expect(provider.last_updated).toBe(record.published);
      const feed = JSON.parse(
        (
          await answer(`${server.url}/.well-known/csaf/clear/csaf-feed-tlp-clear.json`)
        ).body.toString(),
      );
      expect(feed.feed.entry.map((e: { id: string }) => e.id)).toEqual([ID]);
    }
    // Every node serves the same bytes.
    expect(documents[1]).toEqual(documents[0]);
    expect(records[1]).toEqual(records[0]);

    // The audit: the activation leaf made fix and advisory public at one tick.
    await w.fx.node.evidence.activations();
    const outcome = await runAudit({
      server: w.servers[1]!.url,
      stateDir: mkdtempSync(join(tmpdir(), 'fairpatch-audit-')),
      logKey: w.fx.node.logVerifierKey,
      root: readRoot(w.fx.keysDir),
      now: w.fx.clock.now(),
    });
    expect(outcome.error).toBeUndefined();
    const release = outcome.report!.releases.find((r) => r.id === `acme/${result.version}`)!;
    expect(release.advisories).toEqual([
      expect.objectContaining({
        id: ID,
        target: 'acme/acme-2026-0001.advisory.json',
        tick: result.activationTick,
        fix: expect.objectContaining({
          product: 'acme-agent',
          version: '2.4.1',
          tick: result.activationTick,
        }),
        sameTick: true,
      }),
    ]);
    expect(outcome.report!.findings.filter((f) => f.kind === 'advisory-skew')).toEqual([]);
    const said = `advisory ${ID}: public with its fix acme-agent 2.4.1 at the same tick`;
    expect(reportLines(outcome.report!).join('\n')).toContain(said);
    expect(await renderReportHtml(outcome.report!, 'audit', '')).toContain(said);
  });
});
