import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FairpatchNode } from '../../src/server/node.js';
import { type Fixture, MINUTE, SECOND, createFixture } from '../helpers/repo.js';
import { DIALECTS, freshDatabase } from '../helpers/dialects.js';

async function timestamp(node: FairpatchNode, group: string): Promise<Buffer> {
  const response = await node.app.request(`/g/${group}/metadata/timestamp.json`);
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

describe.each(DIALECTS)('%s: two nodes over one database', (dialect) => {
  let fx: Fixture;
  let second: FairpatchNode;

  beforeEach(async () => {
    fx = await createFixture({ databaseUrl: await freshDatabase(dialect) });
    await fx.addVendor('acme');
    second = await fx.openNode();
  });
  afterEach(() => fx.close());

  it('serve byte-identical timestamp.json at every tick, before and after a release', async () => {
    const artifact = await fx.artifact('agent.sh', 'echo 1\n');
    const releaseAt = fx.clock.now() + MINUTE;
    // Published through the first node only; the second learns of it from the database.
    await fx.node.repo.stageVendorMetadata(
      'acme',
      await fx.release('acme', {}, [artifact], releaseAt),
    );
    await second.repo.refresh();

    const versions: number[] = [];
    for (const at of [
      releaseAt - 2 * SECOND,
      releaseAt - 1,
      releaseAt,
      releaseAt + SECOND,
      releaseAt + 30 * SECOND,
    ]) {
      fx.clock.set(at);
      const a = await timestamp(fx.node, 'eu-west');
      const b = await timestamp(second, 'us-east');
      expect(b.equals(a)).toBe(true);
      versions.push(JSON.parse(a.toString()).signed.meta['snapshot.json'].version);
    }
    // The snapshot changes exactly once, at the activation tick, identically on both nodes.
    expect(versions[1]).toBe(versions[0]);
    expect(versions[2]).toBe(versions[1]! + 1);
    expect(versions[4]).toBe(versions[2]);

    // Every file the timestamp leads to is identical too.
    const snapshotVersion = versions[4]!;
    const paths = [
      `/metadata/${snapshotVersion}.snapshot.json`,
      '/metadata/2.targets.json',
      '/metadata/2.acme.json',
      '/metadata/1.root.json',
    ];
    for (const path of paths) {
      const [x, y] = await Promise.all([fx.node.app.request(path), second.app.request(path)]);
      expect(x.status, path).toBe(200);
      expect(Buffer.from(await y.arrayBuffer()).equals(Buffer.from(await x.arrayBuffer()))).toBe(
        true,
      );
    }
  });

  it('never serve a pending release early, even when asked for it by version', async () => {
    const artifact = await fx.artifact('agent.sh', 'echo 1\n');
    const releaseAt = fx.clock.now() + MINUTE;
    await fx.node.repo.stageVendorMetadata(
      'acme',
      await fx.release('acme', {}, [artifact], releaseAt),
    );
    fx.clock.set(releaseAt - 1);
    expect((await fx.node.app.request('/metadata/2.acme.json')).status).toBe(404);
    expect((await fx.node.app.request(`/targets/acme/${artifact.sha256}.agent.sh`)).status).toBe(
      404,
    );
    fx.clock.set(releaseAt);
    expect((await fx.node.app.request('/metadata/2.acme.json')).status).toBe(200);
    expect((await fx.node.app.request(`/targets/acme/${artifact.sha256}.agent.sh`)).status).toBe(
      200,
    );
  });
});
