import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit/run.js';
import { PublisherClient } from '../../src/publish/client.js';
import type { Envelope, RootSigned } from '../../src/tuf/metadata.js';
import { parseRoot } from '../../src/tuf/schema.js';
import type { ManualClock } from '../helpers/clock.js';
import {
  registerVendor,
  stageRelease,
  nodesOverPostgresForSuite,
  uploadArtifact,
} from '../helpers/nodes.js';
import { SimAgent, overHttp } from '../helpers/receipts.js';

const OPERATOR = 'multi-node-operator-token-0123456789';

describe('three server processes over one PostgreSQL', () => {
  const cluster = nodesOverPostgresForSuite('fairpatch-multi-', ['eu', 'us', 'ap'], {
    operatorToken: OPERATOR,
    minLead: '2s',
  });

  it('serve byte-identical timestamp.json every tick, never stale after activation, and audit FAIR', async () => {
    const { dir, keys, nodes } = cluster();
    const operator = new PublisherClient(nodes[1]!.url, OPERATOR);
    const acme = await registerVendor(nodes[1]!.url, OPERATOR, keys, 'acme');
    await new Promise((r) => setTimeout(r, 2500)); // the delegation's lead time

    const artifact = await uploadArtifact(nodes[2]!.url, acme, {
      file: join(dir, 'fix.sh'),
      content: 'echo fixed\n',
      name: 'acme-agent-2.4.1.sh',
    });
    const releaseAt = Math.ceil((Date.now() + 3000) / 1000) * 1000;
    const staged = await stageRelease(nodes[2]!.url, acme, [artifact], {
      version: '2.4.1',
      releaseAt,
    });

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
      const http = overHttp(node.url);
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
