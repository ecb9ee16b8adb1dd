import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PublisherClient } from '../../src/publish/client.js';
import { isoSeconds } from '../../src/tuf/time.js';
import type { StartedProcess } from '../helpers/process.js';
import {
  type TestVendor,
  nodesOverPostgresForSuite,
  registerVendor,
  stageRelease,
  uploadArtifact,
} from '../helpers/nodes.js';

const OPERATOR = 'embargo-multi-node-operator-token-0123';
const MEMBERS = ['acme', 'globex', 'quill'];
const ID = 'CVE-2026-4242';
type Snapshot = { signed: { version: number; meta: Record<string, { version: number }> } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Needs `npx tsc -p tsconfig.build.json` first. Real time: ticks of the server's own clock.
describe('an embargo on two server processes over one PostgreSQL', () => {
  const cluster = nodesOverPostgresForSuite('fairpatch-embargo-', ['eu', 'us'], {
    operatorToken: OPERATOR,
    minLead: '2s',
  });

  it('every member activates at the same tick in one snapshot version, byte-identical on both nodes', async () => {
    const { dir, keys, nodes } = cluster();
    const operator = new PublisherClient(nodes[0]!.url, OPERATOR);
    // Each member publishes through its own node.
    const vendors = new Map<string, { url: string; vendor: TestVendor }>();
    for (const [i, name] of MEMBERS.entries())
      vendors.set(name, {
        url: nodes[i % 2]!.url,
        vendor: await registerVendor(nodes[0]!.url, OPERATOR, keys, name),
      });
    await sleep(2500); // the delegations' lead time

    const releaseAt = Math.ceil((Date.now() + 10_000) / 1000) * 1000;
    const created = (await operator.postJson('/embargoes', {
      id: ID,
      release_at: isoSeconds(releaseAt),
      members: MEMBERS,
    })) as { activation_tick: number };
    const tick = created.activation_tick;
    for (const [name, { url, vendor }] of vendors) {
      const artifact = await uploadArtifact(url, vendor, {
        file: join(dir, `${name}.sh`),
        content: `echo ${name} fixed\n`,
        name: `${name}-lib-1.0.1.sh`,
        platform: 'any',
      });
      await stageRelease(url, vendor, [artifact], {
        version: '1.0.1',
        releaseAt,
        product: `${name}-lib`,
        severity: 'critical',
        cves: [ID],
        embargo: ID,
      });
    }

    // Both nodes polled from before the tick to after it: one document per tick, across nodes.
    const seen = new Map<number, Set<string>>();
    const snapshotOf = new Map<number, number>();
    await Promise.all(
      nodes.map(async (node) => {
        while (Date.now() < releaseAt + 2000) {
          const bytes = Buffer.from(
            await (await fetch(`${node.url}/g/eu-west/metadata/timestamp.json`)).arrayBuffer(),
          );
          const doc = JSON.parse(bytes.toString()) as {
            signed: { version: number; meta: { 'snapshot.json': { version: number } } };
          };
          const digests = seen.get(doc.signed.version) ?? new Set<string>();
          digests.add(createHash('sha256').update(bytes).digest('hex'));
          seen.set(doc.signed.version, digests);
          snapshotOf.set(doc.signed.version, doc.signed.meta['snapshot.json'].version);
          await sleep(25);
        }
      }),
    );
    expect([...seen.keys()]).toContain(tick);
    expect([...seen.keys()]).toContain(tick - 1);
    for (const [k, digests] of seen) expect(digests.size, `tick ${k}`).toBe(1);

    const snapshot = async (node: StartedProcess, version: number) =>
      (await (
        await fetch(`${node.url}/g/eu-west/metadata/${version}.snapshot.json`)
      ).json()) as Snapshot;
    const [before, at] = [snapshotOf.get(tick - 1)!, snapshotOf.get(tick)!];
    for (const node of nodes) {
      const [b, a] = [await snapshot(node, before), await snapshot(node, at)];
      for (const name of MEMBERS) {
        expect(b.signed.meta[`${name}.json`]!.version, `${name} before`).toBe(1);
        expect(a.signed.meta[`${name}.json`]!.version, `${name} at the tick`).toBe(2);
      }
    }
  }, 90_000);
});
