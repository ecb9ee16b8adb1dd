import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Agent, type AgentOptions } from '../../src/agent/agent.js';
import { readOnlineKeys } from '../../src/keys/keygen.js';
import { buildSnapshot, buildTimestamp } from '../../src/tuf/roles.js';
import {
  envelopeBytes,
  metaFile,
  signEnvelope,
  type Envelope,
  type SnapshotSigned,
} from '../../src/tuf/metadata.js';
import { tickAt } from '../../src/common/tick.js';
import { type Fixture, MINUTE, SECOND, createFixture, listen } from '../helpers/repo.js';
import { DIALECTS, freshDatabase } from '../helpers/dialects.js';
import { tamperBlob } from '../helpers/blobs.js';

describe.each(DIALECTS)('%s', (dialect) => {
  let fx: Fixture;
  let server: { url: string; close(): Promise<void> };
  let releaseAt: number;
  let lines: string[];

  beforeEach(async () => {
    fx = await createFixture({ databaseUrl: await freshDatabase(dialect) });
    await fx.addVendor('acme');
    server = await listen(fx.node.app);
    releaseAt = fx.clock.now() + MINUTE;
    const artifact = await fx.artifact(
      'acme-agent-2.4.1-linux-x64.sh',
      '#!/bin/sh\necho patched\n',
    );
    await fx.node.repo.stageVendorMetadata(
      'acme',
      await fx.release('acme', { applies_to: '>=2.0.0 <2.4.1' }, [artifact], releaseAt),
    );
    lines = [];
  });
  afterEach(async () => {
    await server.close();
    await fx.close();
  });

  function agent(overrides: Partial<AgentOptions> = {}, url = server.url): Agent {
    return new Agent(
      {
        server: url,
        group: 'eu-west',
        root: join(fx.keysDir, '1.root.json'),
        stateDir: mkdtempSync(join(tmpdir(), 'fairpatch-agent-')),
        vendor: 'acme',
        product: 'acme-agent',
        platform: 'linux-x64',
        currentVersion: '2.3.0',
        channel: 'stable',
        intervalMs: 10 * SECOND,
        ...overrides,
      },
      {
        clock: fx.clock,
        log: (l) => lines.push(l),
        fetcher: { attempts: 2, backoffMs: 1, timeoutMs: 5000 },
      },
    );
  }

  describe('the agent', () => {
    it('installs the patch from its release tick on, not before; runs the install command once; keeps the receipt', async () => {
      const marker = join(fx.dir, 'installs.log');
      const a = agent({
        install: `echo "$FAIRPATCH_PRODUCT $FAIRPATCH_VERSION $FAIRPATCH_CVES $(head -c 9 "$FAIRPATCH_ARTIFACT")" >> ${marker}`,
      });
      fx.clock.set(releaseAt - 1);
      expect(await a.cycle()).toMatchObject({ outcome: 'up-to-date' });
      expect(existsSync(marker)).toBe(false);
      fx.clock.set(releaseAt);
      expect(await a.cycle()).toMatchObject({ outcome: 'installed', version: '2.4.1' });
      fx.clock.advance(SECOND);
      expect(await a.cycle()).toMatchObject({ outcome: 'up-to-date' }); // 2.4.1 installed: nothing newer
      expect(readFileSync(marker, 'utf8')).toBe('acme-agent 2.4.1 CVE-2026-31337 #!/bin/sh\n');
      expect(a.installed()).toMatchObject({
        vendor: 'acme',
        product: 'acme-agent',
        version: '2.4.1',
      });
      const receipts = a.receipts.all();
      // One receipt per accepted timestamp: the tick before the release, the release tick, the one after.
      const before = tickAt(fx.node.repo.config, releaseAt - 1);
      expect(receipts.map((r) => (r.document.signed as { version: number }).version)).toEqual([
        before,
        before + 1,
        before + 2,
      ]);
      expect(a.receipts.unsubmitted()).toEqual([]); // handed to the server
      expect(
        await (
          await fetch(`${server.url}/api/v1/reports`, {
            headers: { authorization: `Bearer ${fx.operatorToken}` },
          })
        ).json(),
      ).toEqual({
        reports: [
          {
            group: 'eu-west',
            product: 'acme-agent',
            version: '2.4.1',
            outcome: 'installed',
            count: 1,
          },
        ],
      });
    });

    describe('refuses, names the threat and leaves the installed version untouched', () => {
      it('a tampered artifact', async () => {
        fx.clock.set(releaseAt);
        const sha256 = (await fx.node.store.latestVendorMetadata('acme'))!.signed.targets[
          'acme/acme-agent-2.4.1-linux-x64.sh'
        ]!.hashes.sha256;
        await tamperBlob(fx.node, sha256, '#!/bin/sh\necho pwned!!\n');
        const a = agent();
        expect(await a.cycle()).toMatchObject({
          outcome: 'refused',
          code: 'TAMPERED',
          threat: expect.stringMatching(/^tampered artifact/),
        });
        expect(a.installed()).toBeUndefined();
        expect(lines.at(-1)).toMatch(
          /^REFUSED: tampered artifact .*installed version unchanged \(2\.3\.0\)/,
        );
      });

      it('a rolled-back timestamp', async () => {
        const a = agent();
        fx.clock.set(releaseAt - 20 * SECOND);
        await a.cycle();
        fx.clock.set(releaseAt - 30 * SECOND);
        expect(await a.cycle()).toMatchObject({
          outcome: 'refused',
          code: 'ROLLBACK',
          threat: expect.stringMatching(/^rollback attack/),
        });
      });

      it('a rolled-back snapshot and a rolled-back vendor targets file', async () => {
        fx.clock.set(releaseAt);
        const a = agent();
        expect(await a.cycle()).toMatchObject({ outcome: 'installed' });
        const keys = readOnlineKeys(fx.keysDir, fx.node.repo.latestRoot());
        const genuine = JSON.parse(
          fx.node.repo.view.snapshotAt(fx.node.repo.currentTick()).bytes.toString(),
        ) as Envelope<SnapshotSigned>;
        const forge = (meta: SnapshotSigned['meta'], version: number) => {
          const snapshot = envelopeBytes(
            signEnvelope(buildSnapshot(version, releaseAt + 86_400_000, meta), [keys.snapshot]),
          );
          return { snapshot, version };
        };
        for (const [name, forged] of [
          ['snapshot', forge(genuine.signed.meta, genuine.signed.version - 1)],
          [
            'targets',
            forge(
              { ...genuine.signed.meta, 'acme.json': { version: 1 } },
              genuine.signed.version + 1,
            ),
          ],
        ] as const) {
          // A malicious mirror: correctly signed online metadata that rolls something back.
          const mirror = new Hono();
          mirror.get('/g/:g/metadata/timestamp.json', (c) => {
            const k = fx.node.repo.currentTick();
            const ts = envelopeBytes(
              signEnvelope(
                buildTimestamp(k, releaseAt + 300_000, metaFile(forged.version, forged.snapshot)),
                [keys.timestamp],
              ),
            );
            return c.body(ts as Uint8Array<ArrayBuffer>, 200);
          });
          mirror.get(`/g/:g/metadata/${forged.version}.snapshot.json`, (c) =>
            c.body(forged.snapshot as Uint8Array<ArrayBuffer>, 200),
          );
          mirror.all('*', (c) => fx.node.app.fetch(c.req.raw));
          const evil = await listen(mirror);
          fx.clock.advance(SECOND);
          const b = agent(
            { stateDir: (a as unknown as { options: AgentOptions }).options.stateDir },
            evil.url,
          );
          expect(await b.cycle(), name).toMatchObject({
            outcome: 'refused',
            // tuf-js flattens these into a RuntimeError's text: the class is recovered, not read.
            code: 'ROLLBACK',
            threat: expect.stringMatching(/^rollback attack/),
          });
          expect(b.installed()?.version).toBe('2.4.1');
          await evil.close();
        }
      });

      it('an expired timestamp (freeze)', async () => {
        const frozen = await createFixture({
          now: fx.clock.now() - 60 * MINUTE,
          repo: { epochMs: fx.clock.now() - 120 * MINUTE },
        });
        const http = await listen(frozen.node.app);
        try {
          const a = new Agent(
            {
              server: http.url,
              group: 'eu-west',
              root: join(frozen.keysDir, '1.root.json'),
              stateDir: mkdtempSync(join(tmpdir(), 'fp-agent-')),
              vendor: 'acme',
              product: 'acme-agent',
              platform: 'linux-x64',
              currentVersion: '2.3.0',
              channel: 'stable',
              intervalMs: 1000,
            },
            { clock: frozen.clock, log: (l) => lines.push(l), fetcher: { attempts: 1 } },
          );
          expect(await a.cycle()).toMatchObject({
            outcome: 'refused',
            code: 'FREEZE',
            threat: expect.stringMatching(/^freeze attack/),
          });
        } finally {
          await http.close();
          await frozen.close();
        }
      });

      it('an unreachable server', async () => {
        const a = agent({}, 'http://127.0.0.1:1');
        expect(await a.cycle()).toMatchObject({
          outcome: 'refused',
          code: 'UNREACHABLE',
          unreachable: true,
          threat: expect.stringMatching(/^server unreachable/),
        });
      });

      it('a server that answers 5xx: unavailable, not refused on its merits, not "not found"', async () => {
        const failing = new Hono();
        failing.all('*', (c) => c.json({ error: { code: 'NOT_READY', message: 'down' } }, 503));
        const down = await listen(failing);
        try {
          expect(await agent({}, down.url).cycle()).toMatchObject({
            outcome: 'refused',
            code: 'SERVER_UNAVAILABLE',
            unreachable: true,
            threat: expect.stringMatching(/^server unavailable .*HTTP 503/),
          });
        } finally {
          await down.close();
        }
      });
    });

    describe('chooses nothing rather than the wrong thing', () => {
      it('a patch for another product', async () => {
        fx.clock.set(releaseAt);
        expect(await agent({ product: 'other-product' }).cycle()).toEqual({
          outcome: 'up-to-date',
          reason: 'no patch for product other-product signed by vendor acme',
        });
      });
      it('an older version than the installed one (never a downgrade)', async () => {
        fx.clock.set(releaseAt);
        expect(await agent({ currentVersion: '2.5.0' }).cycle()).toMatchObject({
          outcome: 'up-to-date',
          reason: expect.stringMatching(/up to date \(never downgrading\)/),
        });
      });
      it('another platform', async () => {
        fx.clock.set(releaseAt);
        expect(await agent({ platform: 'windows-x64' }).cycle()).toMatchObject({
          outcome: 'up-to-date',
        });
      });
    });

    it('a failing install command is reported, not recorded, and retried on the next poll', async () => {
      fx.clock.set(releaseAt);
      const count = join(fx.dir, 'attempts');
      const flag = join(fx.dir, 'fixed');
      const a = agent({ install: `echo x >> ${count}; test -f ${flag}` });
      expect(await a.cycle()).toMatchObject({
        outcome: 'install-failed',
        version: '2.4.1',
        code: 1,
      });
      expect(a.installed()).toBeUndefined();
      fx.clock.advance(10 * SECOND);
      expect(await a.cycle()).toMatchObject({ outcome: 'install-failed' });
      writeFileSync(flag, '');
      fx.clock.advance(10 * SECOND);
      expect(await a.cycle()).toMatchObject({ outcome: 'installed' });
      expect(readFileSync(count, 'utf8').split('\n').filter(Boolean)).toHaveLength(3);
      const reports = (
        (await (
          await fetch(`${server.url}/api/v1/reports`, {
            headers: { authorization: `Bearer ${fx.operatorToken}` },
          })
        ).json()) as {
          reports: Array<{ outcome: string; count: number }>;
        }
      ).reports;
      expect(reports.map((r) => [r.outcome, r.count])).toEqual([
        ['failed', 2],
        ['installed', 1],
      ]);
    });
  });
});
