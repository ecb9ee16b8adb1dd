import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPrivateKey } from '../../src/keys/key-files.js';
import { generateVendorKey } from '../../src/keys/keygen.js';
import { buildKeyRotation } from '../../src/publish/build.js';
import type { Envelope, TargetsSigned } from '../../src/tuf/metadata.js';
import { type Fixture, MINUTE, SECOND, createFixture, listen } from '../helpers/repo.js';
import { DIALECTS, freshDatabase } from '../helpers/dialects.js';
import { tufClient } from '../helpers/tuf-client.js';

describe.each(DIALECTS)('%s', (dialect) => {
  let fx: Fixture;
  let server: { url: string; close(): Promise<void> };
  beforeAll(async () => {
    fx = await createFixture({ databaseUrl: await freshDatabase(dialect) });
    await fx.addVendor('acme');
    server = await listen(fx.node.app);
  });
  afterAll(async () => {
    await server.close();
    await fx.close();
  });

  describe('a vendor key rotation', () => {
    it('switches delegation and metadata at one tick; clients carry on; the old key can no longer publish', async () => {
      const old = fx.vendors.get('acme')!;
      const first = await fx.artifact('agent-2.4.1.sh', 'echo 241\n');
      const releaseAt = fx.clock.now() + MINUTE;
      await fx.node.repo.stageVendorMetadata(
        'acme',
        await fx.release('acme', {}, [first], releaseAt),
      );
      fx.clock.set(releaseAt);
      const client = tufClient(server.url, 'eu-west', join(fx.keysDir, '1.root.json'));
      expect(await client.updater().getTargetInfo('acme/agent-2.4.1.sh')).toBeDefined();

      // The operator names the new key; the vendor's targets are re-signed with it.
      const newKey = generateVendorKey(fx.keysDir, 'acme-2');
      const previousTop = (
        JSON.parse((await fx.node.store.latestTopTargets())!.bytes) as Envelope<TargetsSigned>
      ).signed;
      const previous = (await fx.node.store.latestVendorMetadata('acme'))!.signed;
      const body = buildKeyRotation({
        name: 'acme',
        newKey,
        targetsKey: readPrivateKey(join(fx.keysDir, 'targets.key')),
        previousTop,
        previous,
        now: fx.clock.now(),
      });
      const response = await fx.node.app.request('/api/v1/vendors/acme/key', {
        method: 'POST',
        headers: {
          authorization: `Bearer ${fx.operatorToken}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify(body),
      });
      expect(response.status).toBe(201);
      const rotated = (await response.json()) as { effectiveAt: number };

      // The old key is revoked at once: its uploads are refused.
      const second = await fx.artifact('agent-2.4.2.sh', 'echo 242\n');
      const byOldKey = await fx.release(
        'acme',
        { version: '2.4.2', applies_to: '<2.4.2' },
        [second],
        rotated.effectiveAt + MINUTE,
      );
      await expect(fx.node.repo.stageVendorMetadata('acme', byOldKey)).rejects.toMatchObject({
        code: 'SIGNATURE_INVALID',
      });

      // The new key publishes; a client that trusted the old delegation follows without any manual step.
      fx.vendors.set('acme', { key: newKey, token: old.token });
      const byNewKey = await fx.release(
        'acme',
        { version: '2.4.2', applies_to: '<2.4.2' },
        [second],
        rotated.effectiveAt + MINUTE,
      );
      await fx.node.repo.stageVendorMetadata('acme', byNewKey);
      fx.clock.set(rotated.effectiveAt);
      const during = client.updater();
      await during.refresh();
      expect((await during.getTargetInfo('acme/agent-2.4.1.sh'))?.custom).toMatchObject({
        version: '2.4.1',
      });
      fx.clock.set(rotated.effectiveAt + MINUTE + SECOND);
      const after = client.updater();
      await after.refresh();
      expect((await after.getTargetInfo('acme/agent-2.4.2.sh'))?.custom).toMatchObject({
        version: '2.4.2',
      });
    });

    it('refuses a rotation that touches another vendor or is not signed by the targets key', async () => {
      const newKey = generateVendorKey(fx.keysDir, 'acme-3');
      const previousTop = (
        JSON.parse((await fx.node.store.latestTopTargets())!.bytes) as Envelope<TargetsSigned>
      ).signed;
      const previous = (await fx.node.store.latestVendorMetadata('acme'))!.signed;
      const post = (body: unknown) =>
        fx.node.app.request('/api/v1/vendors/acme/key', {
          method: 'POST',
          headers: {
            authorization: `Bearer ${fx.operatorToken}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify(body),
        });
      const unsigned = buildKeyRotation({
        name: 'acme',
        newKey,
        targetsKey: newKey,
        previousTop,
        previous,
        now: fx.clock.now(),
      });
      const refused = await post(unsigned);
      expect(refused.status).toBe(422);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
        'SIGNATURE_INVALID',
      );
    });
  });
});
