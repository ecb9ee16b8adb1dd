import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startServer } from '../helpers/cli.js';
import {
  registerVendor,
  stageRelease,
  uploadArtifact,
  nodesOverPostgresForSuite,
} from '../helpers/nodes.js';
import { tufClient } from '../helpers/tuf-client.js';
import { until } from '../helpers/until.js';

const OPERATOR = 'shared-artifacts-operator-token-0123';
type Node = Awaited<ReturnType<typeof startServer>>;

describe('every node serves every artifact (PostgreSQL)', () => {
  const cluster = nodesOverPostgresForSuite('fairpatch-shared-', ['one', 'two'], {
    operatorToken: OPERATOR,
    minLead: '2s',
  });

  it('published through node 1, downloaded through node 2 by a stock TUF client, ranges included', async () => {
    const { dir, keys, nodes } = cluster();
    const [one, two] = nodes as [Node, Node];
    const acme = await registerVendor(one.url, OPERATOR, keys, 'acme');
    // Three and a bit chunks of 1 MiB.
    const bytes = randomBytes(3 * 1024 * 1024 + 12345);
    const artifact = await uploadArtifact(one.url, acme, {
      file: join(dir, 'agent.bin'),
      content: bytes,
      name: 'acme-agent-2.4.1.bin',
    });
    await stageRelease(one.url, acme, [artifact], {
      version: '2.4.1',
      releaseAt: Math.ceil((Date.now() + 3000) / 1000) * 1000,
    });

    const client = tufClient(two.url, 'eu-west', join(keys, '1.root.json'));
    const info = await until('node 2 to list the release', async () => {
      const updater = client.updater();
      await updater.refresh();
      return (await updater.getTargetInfo('acme/acme-agent-2.4.1.bin')) ?? undefined;
    });
    const file = await client.updater().downloadTarget(info);
    expect(readFileSync(file).equals(bytes)).toBe(true);

    // Node 2 never held the bytes on its disk: they came from the database.
    const blobsDir = join(dir, 'data-two', 'blobs');
    expect(existsSync(blobsDir) ? readdirSync(blobsDir) : []).toEqual([]);

    const url = `${two.url}/g/eu-west/targets/acme/${artifact.sha256}.acme-agent-2.4.1.bin`;
    const start = 1024 * 1024 - 10;
    const ranged = await fetch(url, {
      headers: { range: `bytes=${start}-${start + 2 * 1024 * 1024}` },
    });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(
      `bytes ${start}-${start + 2 * 1024 * 1024}/${bytes.length}`,
    );
    expect(
      Buffer.from(await ranged.arrayBuffer()).equals(
        bytes.subarray(start, start + 2 * 1024 * 1024 + 1),
      ),
    ).toBe(true);
    const tail = await fetch(url, { headers: { range: `bytes=${bytes.length - 5}-` } });
    expect(Buffer.from(await tail.arrayBuffer()).equals(bytes.subarray(bytes.length - 5))).toBe(
      true,
    );
  }, 60_000);
});
