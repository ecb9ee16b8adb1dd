import { startNodesOverPostgres } from '../helpers/nodes.js';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit/run.js';
import { readPrivateKey } from '../../src/keys/key-files.js';
import { generateVendorKey } from '../../src/keys/keygen.js';
import { buildRegistration, buildRelease } from '../../src/publish/build.js';
import { PublisherClient, hashFile } from '../../src/publish/client.js';
import type { Envelope, RootSigned, TargetsSigned } from '../../src/tuf/metadata.js';
import { parseRoot } from '../../src/tuf/schema.js';
import { startServer } from '../helpers/cli.js';
import type { ManualClock } from '../helpers/clock.js';
import { SimAgent } from '../helpers/receipts.js';
import { writeFileSync } from 'node:fs';

const OPERATOR = 'multi-node-operator-token-0123456789';
type Node = Awaited<ReturnType<typeof startServer>>;

describe('three server processes over one PostgreSQL', () => {
  let dir: string;
  let nodes: Node[] = [];

  let cluster: Awaited<ReturnType<typeof startNodesOverPostgres>>;
  beforeAll(async () => {
    cluster = await startNodesOverPostgres('fairpatch-multi-', ['eu', 'us', 'ap'], {
      operatorToken: OPERATOR,
      minLead: '2s',
    });
    dir = cluster.dir;
    nodes = cluster.nodes;
  }, 60_000);
  afterAll(() => cluster?.close());

  it('serve byte-identical timestamp.json every tick, never stale after activation, and audit FAIR', async () => {
    const keys = join(dir, 'keys');
    const operator = new PublisherClient(nodes[1]!.url, OPERATOR);
    const vendorKey = generateVendorKey(keys, 'acme');
    const top = ((await operator.request('GET', '/top-targets/latest')) as Envelope<TargetsSigned>)
      .signed;
    const { token } = (await operator.postJson(
      '/vendors',
      buildRegistration({
        name: 'acme',
        vendorKey,
        targetsKey: readPrivateKey(join(keys, 'targets.key')),
        previousTop: top,
        now: Date.now(),
      }),
    )) as { token: string };
    const vendor = new PublisherClient(nodes[2]!.url, token);
    await new Promise((r) => setTimeout(r, 2500)); // the delegation's lead time

    const file = join(dir, 'fix.sh');
    writeFileSync(file, 'echo fixed\n');
    const artifact = {
      platform: 'linux-x64',
      name: 'acme-agent-2.4.1.sh',
      path: file,
      ...(await hashFile(file)),
    };
    await vendor.uploadBlob('acme', artifact);
    const previous = await vendor.latestVendorMetadata('acme');
    const releaseAt = Math.ceil((Date.now() + 3000) / 1000) * 1000;
    const manifest = {
      vendor: 'acme',
      product: 'acme-agent',
      version: '2.4.1',
      channel: 'stable',
      severity: 'high' as const,
      cves: [],
      applies_to: '<2.4.1',
      release_at: '+0s',
      artifacts: [],
    };
    const staged = (await vendor.postJson(
      '/vendors/acme/metadata',
      buildRelease({
        manifest,
        artifacts: [artifact],
        releaseAt,
        previous: previous.signed,
        vendorKey,
        now: Date.now(),
      }),
    )) as { activationTick: number };

    // Pollers on every node, from two ticks before the release to two after.
    const seen = new Map<number, Set<string>>();
    const stale: string[] = [];
    let polls = 0;
    let carrying = Infinity;
    await Promise.all(
      nodes.map(async (node, i) => {
        while (Date.now() < releaseAt + 2000) {
          const bytes = Buffer.from(
            await (await fetch(`${node.url}/g/group-${i}/metadata/timestamp.json`)).arrayBuffer(),
          );
          polls++;
          const doc = JSON.parse(bytes.toString()) as {
            signed: { version: number; meta: { 'snapshot.json': { version: number } } };
          };
          if (!doc.signed) throw new Error(`node ${i}: ${bytes.toString()}`);
          const k = doc.signed.version;
          const digests = seen.get(k) ?? new Set<string>();
          digests.add(createHash('sha256').update(bytes).digest('hex'));
          seen.set(k, digests);
          const snapshot = doc.signed.meta['snapshot.json'].version;
          if (k === staged.activationTick) carrying = Math.min(carrying, snapshot);
          if (k >= staged.activationTick && snapshot < carrying) stale.push(`node ${i} tick ${k}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      }),
    );
    expect(polls).toBeGreaterThan(100);
    expect([...seen.keys()]).toContain(staged.activationTick);
    for (const [tick, digests] of seen) expect(digests.size, `tick ${tick}`).toBe(1);
    expect(stale).toEqual([]);

    // Each group's agents sign what they were served after the release; the operator declared the groups.
    await operator.request(
      'PUT',
      '/groups',
      JSON.stringify({ groups: nodes.map((_, i) => `group-${i}`) }),
      { 'content-type': 'application/json' },
    );
    const clock = { now: () => Date.now() } as ManualClock;
    for (const [i, node] of nodes.entries()) {
      const agent = new SimAgent(`group-${i}`, clock);
      const http = {
        request: (path: string, init?: RequestInit) => fetch(`${node.url}${path}`, init),
      };
      await agent.poll(http);
      await agent.submit(http);
    }
    // Give the nodes a second to log the activation, then audit through a node other than the publisher's.
    await new Promise((r) => setTimeout(r, 1500));
    const root = parseRoot(
      JSON.parse(readFileSync(join(keys, '1.root.json'), 'utf8')),
    ) as Envelope<RootSigned>;
    const outcome = await runAudit({
      server: nodes[0]!.url,
      stateDir: join(dir, 'audit'),
      logKey: readFileSync(join(keys, 'log.vkey'), 'utf8').trim(),
      root,
      now: Date.now(),
    });
    expect(outcome.error).toBeUndefined();
    expect(outcome.report?.findings).toEqual([]);
    expect(outcome.exitCode).toBe(0);
    expect(outcome.report!.releases[0]!.activation?.tick).toBe(staged.activationTick);
  }, 60_000);
});
