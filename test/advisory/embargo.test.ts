import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PublisherClient } from '../../src/publish/client.js';
import { isoSeconds } from '../../src/tuf/time.js';
import { MINUTE } from '../helpers/repo.js';
import { bareAdvisory } from './samples.js';
import { csafErrors, osvErrors } from './validators.js';
import {
  type AdvisoryWorld,
  advisoryPaths,
  advisoryWorld,
  answer,
  publishWithAdvisory,
} from './world.js';

const ID = 'EMB-2026-42';
const json = async (url: string) => JSON.parse((await answer(url)).body.toString());

let w: AdvisoryWorld;
beforeEach(async () => {
  w = await advisoryWorld();
  await w.fx.addVendor('zeta');
});
afterEach(() => w.close());

describe('a coordinated release (an embargo) with one advisory', () => {
  it('is one document naming every member’s product, hidden until the embargo’s tick, then served by every node', async () => {
    const releaseAt = Math.ceil((w.fx.clock.now() + 2 * MINUTE) / 1000) * 1000;
    const operator = new PublisherClient(w.servers[0]!.url, w.fx.operatorToken);
    const created = (await operator.postJson('/embargoes', {
      id: 'CVE-2026-5000',
      release_at: isoSeconds(releaseAt),
      members: ['acme', 'zeta'],
    })) as { activation_tick: number };
    const advisory = { ...bareAdvisory, id: ID };
    const members = [
      { vendor: 'acme', product: 'acme-agent', version: '2.4.1', applies_to: '<2.4.1' },
      { vendor: 'zeta', product: 'zeta-db', version: '9.0.3', applies_to: '>=9.0.0 <9.0.3' },
    ];
    for (const m of members) {
      const staged = await publishWithAdvisory(w, { ...m, advisory }, { embargo: 'CVE-2026-5000' });
      expect(staged.activationTick).toBe(created.activation_tick);
    }
    const year = new Date(releaseAt).getUTCFullYear();
    const [doc, , sig, osv] = advisoryPaths(ID, year);
    const [missingDoc, , , missingOsv] = advisoryPaths('EMB-2026-43', year);

    w.fx.clock.set(releaseAt - 1);
    for (const { url } of w.servers) {
      for (const [path, missing] of [
        [doc, missingDoc],
        [osv, missingOsv],
      ] as const) {
        const [got, none] = [await answer(url + path), await answer(url + missing)];
        expect(got.status).toBe(404);
        expect(got.headers).toEqual(none.headers);
        expect(got.body.toString()).toBe(none.body.toString());
      }
    }

    w.fx.clock.set(releaseAt);
    const bodies: string[] = [];
    for (const { url } of w.servers) {
      const csaf = await json(url + doc);
      expect(await csafErrors(csaf)).toEqual([]);
      expect(csaf.document.publisher.category).toBe('coordinator');
      expect(csaf.product_tree.branches.map((b: { name: string }) => b.name)).toEqual([
        'acme',
        'zeta',
      ]);
      expect(csaf.vulnerabilities[0].product_status.fixed).toEqual([
        'acme:acme-agent:2.4.1',
        'zeta:zeta-db:9.0.3',
      ]);
      const record = await json(url + osv);
      expect(osvErrors(record)).toEqual([]);
      expect(
        record.affected.map(
          (a: { database_specific: { vendor: string } }) => a.database_specific.vendor,
        ),
      ).toEqual(['acme', 'zeta']);
      expect(await json(`${url}/osv/index.json`)).toEqual([
        { id: `x_${ID}`, aliases: ['CVE-2026-5000'], modified: record.published },
      ]);
      // A joint document is no one vendor's: no vendor signature is offered for it.
      expect((await answer(url + sig)).status).toBe(404);
      bodies.push((await answer(url + doc)).body.toString());
    }
    expect(bodies[1]).toBe(bodies[0]);
  });
});

describe('an embargo moved later after its member signed', () => {
  it('serves the document dated at the tick it went public, without the signature made for the old date', async () => {
    const first = Math.ceil((w.fx.clock.now() + 2 * MINUTE) / 1000) * 1000;
    const operator = new PublisherClient(w.servers[0]!.url, w.fx.operatorToken);
    await operator.postJson('/embargoes', {
      id: 'CVE-2026-5001',
      release_at: isoSeconds(first),
      members: ['acme'],
    });
    await publishWithAdvisory(w, {}, { embargo: 'CVE-2026-5001' });
    const moved = first + 5 * MINUTE;
    await operator.postJson('/embargoes/CVE-2026-5001/move', { release_at: isoSeconds(moved) });
    for (const node of w.nodes) await node.repo.refresh();

    const [doc, , sig, osv] = advisoryPaths('ACME-2026-0001', new Date(moved).getUTCFullYear());
    const url = w.servers[1]!.url;
    w.fx.clock.set(first);
    expect((await answer(url + doc)).status).toBe(404);
    w.fx.clock.set(moved);
    const csaf = await json(url + doc);
    expect(await csafErrors(csaf)).toEqual([]);
    expect(csaf.document.tracking.initial_release_date).toBe(isoSeconds(moved));
    expect((await json(url + osv)).published).toBe(isoSeconds(moved));
    expect((await answer(url + sig)).status).toBe(404);
  });
});
