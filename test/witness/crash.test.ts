import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ed25519PublicKey } from '../../src/common/ed25519.js';
import { signObservation } from '../../src/common/observation.js';
import { witnessAckSchema } from '../../src/common/witness.js';
import { openCheckpoint } from '../../src/log/checkpoint.js';
import { leafHash, verifyConsistency } from '../../src/log/merkle.js';
import { parseVerifierKey } from '../../src/log/note.js';
import { MemoryTree } from '../../src/log/tree.js';
import { canonicalBytes } from '../../src/common/canonical.js';
import { sha256Hex } from '../../src/tuf/metadata.js';
import { generateWitnessKey } from '../../src/witness/key.js';
import { startProcess } from '../helpers/process.js';
import { createFixture, listen } from '../helpers/repo.js';
import { witnessServeArgs } from '../helpers/witness.js';

// 30 rounds by default (issue 13). Each round is one witness process start and a kill on a count of
// acknowledged receipts, not after a sleep, so the rounds cost little beyond starting the process.
const ROUNDS = Number(process.env.WITNESS_CRASH_ROUNDS ?? 30);
const env = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => name !== 'DATABASE_URL'),
);

describe(`a witness SIGKILLed during intake, ${ROUNDS} rounds`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fp-witness-crash-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loses no acknowledged receipt, and its log stays one append-only history', async () => {
    const fx = await createFixture();
    const node = await listen(fx.node.app);
    try {
      generateWitnessKey(join(dir, 'w1.key'), 'w1');
      const verifier = parseVerifierKey(readFileSync(join(dir, 'w1.vkey'), 'utf8'));
      const args = witnessServeArgs(node.url, fx.keysDir, dir);
      const document = (await (
        await fx.node.app.request('/g/crash/metadata/timestamp.json')
      ).json()) as Record<string, unknown>;
      const digest = sha256Hex(canonicalBytes(document));
      const acknowledged: Array<{ index: number; sig: string }> = [];
      // Every checkpoint the witness answered with: each must be a prefix of the log it later shows.
      const answered: string[] = [];
      let previous: string | undefined;

      // Round ROUNDS + 1 only restarts and checks: the last round's acknowledgements are checked too.
      for (let round = 1; round <= ROUNDS + 1; round++) {
        const witness = await startProcess(args, { env, timeoutMs: 30_000 });
        try {
          const response = await fetch(`${witness.url}/log/checkpoint`);
          if (response.status === 200) {
            const note = await response.text();
            const cp = openCheckpoint(note, verifier);
            const entries: Array<{ index: number; data: string }> = [];
            for (let s = 0; s < cp.size; s += 1000) {
              const body = (await (
                await fetch(
                  `${witness.url}/log/entries?start=${s}&end=${Math.min(cp.size, s + 1000)}`,
                )
              ).json()) as { entries: typeof entries };
              entries.push(...body.entries);
            }
            const tree = new MemoryTree();
            tree.appendHashes(entries.map((e) => leafHash(Buffer.from(e.data))));
            expect(
              Buffer.from(tree.root()).equals(cp.rootHash),
              `round ${round}: the witness log verifies from its first leaf`,
            ).toBe(true);
            if (previous) {
              const o = openCheckpoint(previous, verifier);
              verifyConsistency(
                o.size,
                cp.size,
                o.rootHash,
                cp.rootHash,
                o.size === 0 || o.size === cp.size ? [] : tree.consistencyProof(o.size, cp.size),
              );
            }
            // No two inconsistent checkpoints: every one handed out so far is this tree at its size.
            for (const a of answered.splice(0)) {
              const c = openCheckpoint(a, verifier);
              expect(
                c.size,
                `round ${round}: an answered checkpoint is ahead of the log`,
              ).toBeLessThanOrEqual(cp.size);
              expect(
                Buffer.from(tree.root(c.size)).equals(c.rootHash),
                `round ${round}: an answered checkpoint of size ${c.size} is another tree`,
              ).toBe(true);
            }
            for (const a of acknowledged)
              expect(
                entries[a.index]?.data,
                `round ${round}: acknowledged receipt at ${a.index}`,
              ).toContain(a.sig);
            previous = note;
          } else expect(acknowledged).toEqual([]);
          if (round > ROUNDS) break;

          // Receipts from fresh agent keys, two streams at once. The kill comes the moment the
          // round's k-th acknowledgement arrives (k from 1 to 6), with the other stream's request
          // somewhere in the witness (parsing, verifying, appending, committing, answering).
          const killAfter = 1 + Math.floor(Math.random() * 6);
          let acks = 0;
          let alive = true;
          const kill = () => {
            if (!alive) return;
            alive = false;
            witness.process.kill('SIGKILL');
          };
          const stream = async () => {
            while (alive) {
              const seed = randomBytes(32);
              const at = new Date().toISOString();
              const receipt = signObservation(
                {
                  v: 1,
                  agent: ed25519PublicKey(seed).toString('hex'),
                  group: 'crash',
                  document: digest,
                  first_at: at,
                  last_at: at,
                  polls: 1,
                  via: '/g/crash',
                  lag_ms: 0,
                },
                seed,
              );
              const sent = await fetch(`${witness.url}/receipts`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify({ documents: { [digest]: document }, receipts: [receipt] }),
              });
              if (sent.status !== 201) continue;
              const ack = witnessAckSchema.parse(await sent.json());
              acknowledged.push({ index: ack.entries[0]!.index, sig: receipt.sig });
              answered.push(ack.checkpoint);
              if (++acks >= killAfter) kill();
            }
          };
          // Bounded: a witness that acknowledges nothing is killed anyway (and the round says so).
          const timer = setTimeout(kill, 15_000);
          await Promise.all([stream().catch(() => {}), stream().catch(() => {})]);
          clearTimeout(timer);
          expect(
            acks,
            `round ${round}: the witness acknowledged receipts before the kill`,
          ).toBeGreaterThan(0);
        } finally {
          await witness.stop();
        }
      }
      expect(acknowledged.length).toBeGreaterThan(0);
    } finally {
      await node.close();
      await fx.close();
    }
  }, 600_000);
});
