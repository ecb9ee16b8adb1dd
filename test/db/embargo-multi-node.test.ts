import { startNodesOverPostgres } from '../helpers/nodes.js';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPrivateKey } from '../../src/keys/key-files.js';
import { generateVendorKey } from '../../src/keys/keygen.js';
import { buildRegistration, buildRelease } from '../../src/publish/build.js';
import { PublisherClient, hashFile } from '../../src/publish/client.js';
import type { Envelope, TargetsSigned } from '../../src/tuf/metadata.js';
import { isoSeconds } from '../../src/tuf/time.js';
import { startServer } from '../helpers/cli.js';

const OPERATOR = 'embargo-multi-node-operator-token-0123';
const MEMBERS = ['acme', 'globex', 'quill'];
const ID = 'CVE-2026-4242';
type Node = Awaited<ReturnType<typeof startServer>>;
type Snapshot = { signed: { version: number; meta: Record<string, { version: number }> } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Needs `npx tsc -p tsconfig.build.json` first. Real time: ticks of the server's own clock.
describe('an embargo on two server processes over one PostgreSQL', () => {
  let dir: string;
  let nodes: Node[] = [];

  let cluster: Awaited<ReturnType<typeof startNodesOverPostgres>>;
  beforeAll(async () => {
    cluster = await startNodesOverPostgres('fairpatch-embargo-', ['eu', 'us'], {
      operatorToken: OPERATOR,
      minLead: '2s',
    });
    dir = cluster.dir;
    nodes = cluster.nodes;
  }, 60_000);
  afterAll(() => cluster?.close());

  it('every member activates at the same tick in one snapshot version, byte-identical on both nodes', async () => {
    const keys = join(dir, 'keys');
    const operator = new PublisherClient(nodes[0]!.url, OPERATOR);
    const vendors = new Map<
      string,
      { client: PublisherClient; key: ReturnType<typeof generateVendorKey> }
    >();
    for (const [i, name] of MEMBERS.entries()) {
      const key = generateVendorKey(keys, name);
      const top = (
        (await operator.request('GET', '/top-targets/latest')) as Envelope<TargetsSigned>
      ).signed;
      const { token } = (await operator.postJson(
        '/vendors',
        buildRegistration({
          name,
          vendorKey: key,
          targetsKey: readPrivateKey(join(keys, 'targets.key')),
          previousTop: top,
          now: Date.now(),
        }),
      )) as { token: string };
      vendors.set(name, { client: new PublisherClient(nodes[i % 2]!.url, token), key });
    }
    await sleep(2500); // the delegations' lead time

    const releaseAt = Math.ceil((Date.now() + 10_000) / 1000) * 1000;
    const created = (await operator.postJson('/embargoes', {
      id: ID,
      release_at: isoSeconds(releaseAt),
      members: MEMBERS,
    })) as { activation_tick: number };
    const tick = created.activation_tick;
    for (const [name, { client, key }] of vendors) {
      const file = join(dir, `${name}.sh`);
      writeFileSync(file, `echo ${name} fixed\n`);
      const artifact = {
        platform: 'any',
        name: `${name}-lib-1.0.1.sh`,
        path: file,
        ...(await hashFile(file)),
      };
      await client.uploadBlob(name, artifact);
      const previous = await client.latestVendorMetadata(name);
      const manifest = {
        vendor: name,
        product: `${name}-lib`,
        version: '1.0.1',
        channel: 'stable',
        severity: 'critical' as const,
        cves: [ID],
        applies_to: '<1.0.1',
        release_at: '+0s',
        artifacts: [],
      };
      await client.postJson(
        `/vendors/${name}/metadata?embargo=${ID}`,
        buildRelease({
          manifest,
          artifacts: [artifact],
          releaseAt,
          previous: previous.signed,
          vendorKey: key,
          now: Date.now(),
        }),
      );
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

    const snapshot = async (node: Node, version: number) =>
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
