import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { activationTick, tickAt } from '../../src/common/tick.js';
import { generateKeyPair } from '../../src/tuf/keys.js';
import { envelopeBytes, signEnvelope } from '../../src/tuf/metadata.js';
import {
  type Fixture,
  MINUTE,
  SECOND,
  alignedNow,
  createFixture,
  listen,
} from '../helpers/repo.js';
import { tufClient } from '../helpers/tuf-client.js';
import { DIALECTS, freshDatabase } from '../helpers/dialects.js';
import { tamperBlob } from '../helpers/blobs.js';

const PATH = 'acme/agent-2.4.1-linux-x64.sh';

describe.each(DIALECTS)(
  '%s: a stock TUF client (tuf-js) against the real server over HTTP',
  (dialect) => {
    let fx: Fixture;
    let server: { url: string; close(): Promise<void> };
    let releaseAt: number;

    beforeEach(async () => {
      fx = await createFixture({ databaseUrl: await freshDatabase(dialect) });
      const acme = await fx.addVendor('acme');
      server = await listen(fx.node.app);
      const artifact = await fx.artifact('agent-2.4.1-linux-x64.sh', '#!/bin/sh\necho patched\n');
      releaseAt = fx.clock.now() + 2 * MINUTE;
      const envelope = await fx.release('acme', {}, [artifact], releaseAt);
      const response = await fetch(`${server.url}/api/v1/vendors/acme/metadata`, {
        method: 'POST',
        headers: { authorization: `Bearer ${acme.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(envelope),
      });
      expect(response.status).toBe(201);
    });

    afterEach(async () => {
      await server.close();
      await fx.close();
    });

    it('sees nothing before release_at and the patch from the activation tick on, in every group', async () => {
      const eu = tufClient(server.url, 'eu-west', join(fx.keysDir, '1.root.json'));
      const ap = tufClient(server.url, 'ap-south', join(fx.keysDir, '1.root.json'));

      await eu.updater().refresh();
      expect(await eu.updater().getTargetInfo(PATH)).toBeUndefined();

      fx.clock.set(releaseAt - 1); // the last millisecond of the tick before
      for (const client of [eu, ap])
        expect(await client.updater().getTargetInfo(PATH)).toBeUndefined();

      fx.clock.set(releaseAt);
      const k = tickAt(fx.node.repo.config, releaseAt);
      expect(k).toBe(activationTick(fx.node.repo.config, releaseAt));
      for (const client of [eu, ap]) {
        const updater = client.updater();
        await updater.refresh();
        const info = await updater.getTargetInfo(PATH);
        expect(info?.custom).toMatchObject({
          product: 'acme-agent',
          version: '2.4.1',
          release_at: new Date(releaseAt).toISOString().replace('.000', ''),
        });
        const file = await updater.downloadTarget(info!);
        expect(readFileSync(file, 'utf8')).toBe('#!/bin/sh\necho patched\n');
        const timestamp = JSON.parse(
          readFileSync(join(client.dir, 'metadata', 'timestamp.json'), 'utf8'),
        );
        expect(timestamp.signed.version).toBe(k);
      }
      // Both groups were counted, each with the snapshot that carries the release.
      const served = fx.node.counter.peek();
      expect([...served.keys()].sort()).toEqual(['ap-south', 'eu-west']);
    });

    describe('when an attacker tampers', () => {
      it('rejects a target whose bytes were changed on disk', async () => {
        fx.clock.set(releaseAt);
        const updater = tufClient(server.url, 'eu-west', join(fx.keysDir, '1.root.json')).updater();
        const info = await updater.getTargetInfo(PATH);
        await tamperBlob(fx.node, info!.hashes.sha256!, '#!/bin/sh\necho pwned!!\n'); // same length, other bytes
        await expect(updater.downloadTarget(info!)).rejects.toThrow(/hash/i);
      });

      it('rejects a rolled-back timestamp', async () => {
        const client = tufClient(server.url, 'eu-west', join(fx.keysDir, '1.root.json'));
        fx.clock.advance(10 * SECOND);
        await client.updater().refresh();
        fx.clock.advance(-5 * SECOND); // a replayed, older (still unexpired) tick
        await expect(client.updater().refresh()).rejects.toThrow(
          /timestamp version \d+ is less than current version/,
        );
      });

      it('rejects metadata signed by a key not delegated for the vendor paths', async () => {
        fx.clock.set(releaseAt);
        // A compromised database: a version signed by a rogue key, as if the server had accepted it.
        const latest = await fx.node.store.latestVendorMetadata('acme');
        const rogue = signEnvelope({ ...latest!.signed, version: latest!.version + 1 }, [
          generateKeyPair(),
        ]);
        await fx.node.store.stageVendorMetadata({
          vendor: 'acme',
          version: latest!.version + 1,
          bytes: envelopeBytes(rogue),
          kind: 'refresh',
          effectiveAt: releaseAt,
          now: releaseAt,
        });
        await fx.node.repo.refresh();
        fx.clock.advance(SECOND);
        const updater = tufClient(server.url, 'eu-west', join(fx.keysDir, '1.root.json')).updater();
        await expect(updater.getTargetInfo(PATH)).rejects.toThrow(
          /Unable to load targets.*signed by 0\/1/,
        );
      });
    });
  },
);

describe('a stock TUF client and an expired timestamp (indefinite freeze)', () => {
  it('refuses a timestamp whose freshness window has passed', async () => {
    const now = alignedNow();
    const fx = await createFixture({
      now: now - 60 * MINUTE,
      repo: { epochMs: now - 120 * MINUTE },
    });
    const server = await listen(fx.node.app);
    try {
      const updater = tufClient(server.url, 'eu-west', join(fx.keysDir, '1.root.json')).updater();
      // The server's clock is an hour behind: the tick it serves expired 55 minutes ago.
      await expect(updater.refresh()).rejects.toThrow(/timestamp.json is expired/);
    } finally {
      await server.close();
      await fx.close();
    }
  });
});
