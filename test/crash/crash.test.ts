import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/log/checkpoint.js';
import { leafHash } from '../../src/log/merkle.js';
import { parseVerifierKey } from '../../src/log/note.js';
import { MemoryTree } from '../../src/log/tree.js';
import { generateRepositoryKeys } from '../../src/keys/keygen.js';
import { PublisherClient } from '../../src/publish/client.js';
import { startServer } from '../helpers/cli.js';
import { verifyExtends } from '../helpers/log.js';
import { freshAgentReceipt } from '../helpers/receipts.js';
import { type TestVendor, registerVendor, stageRelease, uploadArtifact } from '../helpers/nodes.js';

const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 50);
const OPERATOR = 'crash-operator-token-0123456789abcdef';

describe(`SIGKILL at random moments, ${ROUNDS} rounds`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fairpatch-crash-'));
  const keys = join(dir, 'keys');
  generateRepositoryKeys({ dir: keys, now: Date.now() });
  const verifier = parseVerifierKey(readFileSync(join(keys, 'log.vkey'), 'utf8'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loses nothing acknowledged, and the log stays one append-only history', async () => {
    const start = () =>
      startServer(['--data', join(dir, 'data'), '--keys', keys, '--min-lead', '1s'], {
        env: { FAIRPATCH_OPERATOR_TOKEN: OPERATOR },
      });
    let acme: TestVendor | undefined;
    let published = 0; // highest vendor metadata version the server acknowledged
    const publishedTargets: string[] = [];
    const receipts: Array<{ index: number; client: string }> = [];
    const checkpoints = new Set<string>(); // every distinct checkpoint served before a kill
    let artifactN = 0;

    for (let round = 1; round <= ROUNDS; round++) {
      const server = await start();
      try {
        // What survived the previous kill.
        const note = await (await fetch(`${server.url}/log/checkpoint`)).text();
        const cp = openCheckpoint(note, verifier);
        const entries: Array<{ index: number; data: string }> = [];
        for (let s = 0; s < cp.size; s += 1000) {
          const body = (await (
            await fetch(`${server.url}/log/entries?start=${s}&end=${Math.min(cp.size, s + 1000)}`)
          ).json()) as { entries: typeof entries };
          entries.push(...body.entries);
        }
        const tree = new MemoryTree();
        tree.appendHashes(entries.map((e) => leafHash(Buffer.from(e.data))));
        expect(
          Buffer.from(tree.root()).equals(cp.rootHash),
          `round ${round}: the log verifies from its first leaf`,
        ).toBe(true);
        for (const old of checkpoints) verifyExtends(openCheckpoint(old, verifier), cp, tree);
        for (const r of receipts)
          expect(
            entries[r.index]?.data,
            `round ${round}: acknowledged receipt at ${r.index}`,
          ).toContain(r.client);
        if (acme) {
          const latest = await new PublisherClient(server.url, acme.token).latestVendorMetadata(
            'acme',
          );
          expect(
            latest.signed.version,
            `round ${round}: acknowledged publishes`,
          ).toBeGreaterThanOrEqual(published);
          for (const path of publishedTargets)
            expect(latest.signed.targets[path], path).toBeDefined();
        }
        checkpoints.clear(); // all were consistent with `note`: checking against it from now on suffices
        checkpoints.add(note);

        const vendor = (acme ??= await registerVendor(server.url, OPERATOR, keys, 'acme'));

        // A stream of publishes, receipt uploads and checkpoint reads, killed at a random moment.
        let alive = true;
        const publishes = (async () => {
          while (alive) {
            const n = ++artifactN;
            const artifact = await uploadArtifact(server.url, vendor, {
              file: join(dir, `a${n}.sh`),
              content: `echo ${n}\n`,
              name: `acme-agent-${n}.0.0.sh`,
            });
            const staged = await stageRelease(server.url, vendor, [artifact], {
              version: `${n}.0.0`,
              releaseAt: Math.ceil((Date.now() + 2000) / 1000) * 1000,
              severity: 'low',
            });
            published = Math.max(published, staged.version);
            publishedTargets.push(`acme/${artifact.name}`);
          }
        })().catch(() => {});
        const uploads = (async () => {
          while (alive) {
            const document = (await (
              await fetch(`${server.url}/g/crash/metadata/timestamp.json`)
            ).json()) as Record<string, unknown>;
            // A fresh agent key per upload: its public key, in the leaf, marks this receipt.
            const { agent: client, body } = freshAgentReceipt('crash', document);
            const response = await fetch(`${server.url}/api/v1/receipts`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body,
            });
            if (response.status === 201)
              receipts.push({
                index: ((await response.json()) as { logIndex: number }).logIndex,
                client,
              });
          }
        })().catch(() => {});
        const reads = (async () => {
          while (alive) {
            const response = await fetch(`${server.url}/log/checkpoint`);
            if (response.ok) checkpoints.add(await response.text());
            await new Promise((r) => setTimeout(r, 10));
          }
        })().catch(() => {});
        // Killed at a random moment, but only once this round has something acknowledged to lose:
        // on a busy machine a fixed delay could end rounds before any write, testing nothing.
        const acknowledged = published + receipts.length;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 400));
        for (let i = 0; i < 300 && published + receipts.length === acknowledged; i++)
          await new Promise((r) => setTimeout(r, 50));
        server.process.kill('SIGKILL');
        alive = false;
        await Promise.all([publishes, uploads, reads]);
      } finally {
        await server.stop();
      }
    }
    // Every round acknowledged at least one write before its kill; how many is the machine's business.
    expect(published + receipts.length).toBeGreaterThanOrEqual(ROUNDS);
    expect(published).toBeGreaterThan(0);
    expect(receipts.length).toBeGreaterThan(0);
  }, 600_000);
});
