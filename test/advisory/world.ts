import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type PublishResult, PublisherClient, publishManifest } from '../../src/publish/client.js';
import type { FairpatchNode } from '../../src/server/node.js';
import { type Dialect, freshDatabase } from '../helpers/dialects.js';
import { type Fixture, createFixture, listen } from '../helpers/repo.js';
import { fullAdvisory } from './samples.js';

/** Two nodes over one database (SQLite's file, or PostgreSQL), each on real HTTP, the fixture's clock, vendor acme registered. */
export interface AdvisoryWorld {
  fx: Fixture;
  nodes: FairpatchNode[];
  servers: Array<{ url: string; close(): Promise<void> }>;
  close(): Promise<void>;
}

export async function advisoryWorld(dialect: Dialect = 'sqlite'): Promise<AdvisoryWorld> {
  const databaseUrl = await freshDatabase(dialect);
  const fx = await createFixture(databaseUrl ? { databaseUrl } : {});
  await fx.addVendor('acme');
  const nodes = [fx.node, await fx.openNode()];
  const servers = await Promise.all(nodes.map((n) => listen(n.app)));
  return {
    fx,
    nodes,
    servers,
    async close() {
      for (const s of servers) await s.close();
      await fx.close();
    },
  };
}

/** Publishes acme-agent 2.4.1 with its advisory through node 0, as `fairpatch publish` does. */
export async function publishWithAdvisory(
  w: AdvisoryWorld,
  manifest: Record<string, unknown> = {},
  options: { embargo?: string } = {},
): Promise<PublishResult> {
  const vendor = (manifest.vendor as string | undefined) ?? 'acme';
  writeFileSync(join(w.fx.dir, 'fix.sh'), `echo ${vendor} fixed\n`);
  const manifestPath = join(w.fx.dir, `${vendor}.json`);
  writeFileSync(
    manifestPath,
    JSON.stringify({
      vendor: 'acme',
      product: 'acme-agent',
      version: '2.4.1',
      severity: 'critical',
      applies_to: '>=2.0.0 <2.4.1',
      release_at: '+60s',
      advisory: fullAdvisory,
      artifacts: [{ platform: 'linux-x64', file: 'fix.sh' }],
      ...manifest,
    }),
  );
  const { key, token } = w.fx.vendors.get(vendor)!;
  const result = await publishManifest({
    manifestPath,
    client: new PublisherClient(w.servers[0]!.url, token),
    vendorKey: key,
    now: () => w.fx.clock.now(),
    ...options,
  });
  // Every node holds the release before its tick (the lead time); the others reload now.
  for (const node of w.nodes) await node.repo.refresh();
  return result;
}

/** An HTTP answer as a test compares it: status, headers but Date, body. */
export async function answer(url: string) {
  const response = await fetch(url);
  const headers = [...response.headers].filter(([name]) => name !== 'date');
  return { status: response.status, headers, body: Buffer.from(await response.arrayBuffer()) };
}

/** The CSAF document, its hash and signature, and the OSV record of an advisory. */
export const advisoryPaths = (id: string, year: number): [string, string, string, string] => {
  const doc = `/.well-known/csaf/clear/${year}/${id.toLowerCase()}.json`;
  return [doc, `${doc}.sha512`, `${doc}.sig`, `/osv/x_${id}.json`];
};
