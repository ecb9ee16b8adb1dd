import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { signCheckpoint } from '../../src/log/checkpoint.js';
import { verifiedCosigners } from '../../src/log/cosignature.js';
import { parseVerifierKey, verifierKey } from '../../src/log/note.js';
import { MemoryTree } from '../../src/log/tree.js';
import { generateKeyPair } from '../../src/tuf/keys.js';
import { generateWitnessKey, readWitnessKey } from '../../src/witness/key.js';
import { type Witness, createWitness } from '../../src/witness/node.js';
import { DIALECTS, freshDatabase } from '../helpers/dialects.js';
import { createFixture, listen } from '../helpers/repo.js';
import type { WitnessDb } from '../../src/witness/schema.js';
import { readRoot } from '../helpers/witness.js';

const ORIGIN = 'patches.example/log';
const logKey = generateKeyPair();
const logVerifier = parseVerifierKey(verifierKey(ORIGIN, logKey.publicKey));

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

function tree(leaves: string[]): MemoryTree {
  const t = new MemoryTree();
  t.append(leaves.map((l) => Buffer.from(l)));
  return t;
}

function note(t: MemoryTree, size = t.size, key = logKey.secretKey): string {
  return signCheckpoint({ origin: ORIGIN, size, rootHash: t.root(size) }, ORIGIN, key);
}

function request(old: number, proof: Uint8Array[], checkpoint: string): string {
  return `old ${old}\n${proof.map((p) => `${Buffer.from(p).toString('base64')}\n`).join('')}\n${checkpoint}`;
}

describe.each(DIALECTS)('POST /add-checkpoint (C2SP tlog-witness, %s)', (dialect) => {
  it('cosigns consistent checkpoints, refuses a fork or a shrink with the evidence, and keeps its record across a restart', async () => {
    const fx = await createFixture();
    cleanup.push(() => fx.close());
    const dir = mkdtempSync(join(tmpdir(), 'fp-cosign-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    generateWitnessKey(join(dir, 'w1.key'), 'w1');
    const key = readWitnessKey(join(dir, 'w1.key'));
    const databaseUrl = await freshDatabase(dialect);
    const open = async (): Promise<{ witness: Witness; url: string; close(): Promise<void> }> => {
      const witness = await createWitness({
        dataDir: join(dir, 'data'),
        ...(databaseUrl ? { databaseUrl } : {}),
        key,
        root: readRoot(fx.keysDir),
        logs: [{ url: 'http://127.0.0.1:1', verifier: logVerifier }],
      });
      const http = await listen(witness.app);
      return {
        witness,
        url: http.url,
        close: async () => {
          await http.close();
          await witness.close();
        },
      };
    };
    let w = await open();
    const post = async (body: string) => {
      const response = await fetch(`${w.url}/add-checkpoint`, { method: 'POST', body });
      return {
        status: response.status,
        type: response.headers.get('content-type') ?? '',
        text: await response.text(),
      };
    };
    const cosigner = parseVerifierKey(w.witness.verifierKey);

    const honest = tree(['a', 'b', 'c', 'd', 'e', 'f']);
    const first = await post(request(0, [], note(honest, 3)));
    expect(first.status).toBe(200);
    expect(verifiedCosigners(note(honest, 3) + first.text, [cosigner]).map((c) => c.name)).toEqual([
      'witness/w1',
    ]);
    const second = await post(request(3, honest.consistencyProof(3, 5), note(honest, 5)));
    expect(second.status).toBe(200);

    // A stale client: 409 with the size the witness holds, as text/x.tlog.size.
    const stale = await post(request(3, honest.consistencyProof(3, 6), note(honest, 6)));
    expect(stale.status).toBe(409);
    expect(stale.type).toMatch(/^text\/x\.tlog\.size/);
    expect(stale.text).toBe('5\n');

    // A fork at the same size: refused, with both checkpoints as evidence.
    const forked = tree(['a', 'b', 'c', 'X', 'Y', 'Z']);
    const sameSize = await post(request(5, [], note(forked, 5)));
    expect(sameSize.status).toBe(409);
    const conflict = JSON.parse(sameSize.text) as {
      error: { code: string; details: { witnessed_checkpoint: string; submitted: string } };
    };
    expect(conflict.error.code).toBe('CHECKPOINT_CONFLICT');
    expect(conflict.error.details.witnessed_checkpoint).toBe(note(honest, 5));
    expect(conflict.error.details.submitted).toContain(note(forked, 5));

    // A fork that grew: its consistency proof does not lead from what the witness cosigned.
    const grown = await post(request(5, forked.consistencyProof(5, 6), note(forked, 6)));
    expect(grown.status).toBe(422);
    expect((JSON.parse(grown.text) as { error: { code: string } }).error.code).toBe(
      'PROOF_INVALID',
    );

    // A shrink: the old size may not exceed the new one.
    expect((await post(request(5, [], note(honest, 3)))).status).toBe(400);
    // Another key, another origin.
    expect(
      (
        await post(
          request(5, honest.consistencyProof(5, 6), note(honest, 6, generateKeyPair().secretKey)),
        )
      ).status,
    ).toBe(403);
    expect(
      (
        await post(
          request(
            0,
            [],
            signCheckpoint(
              { origin: 'other.example/log', size: 1, rootHash: honest.root(1) },
              'other.example/log',
              logKey.secretKey,
            ),
          ),
        )
      ).status,
    ).toBe(404);

    expect(await w.witness.checkpoints.latest(ORIGIN)).toBe(note(honest, 5));
    const evidence = await (w.witness.db as unknown as WitnessDb)
      .selectFrom('witness_evidence')
      .select(['reason'])
      .execute();
    expect(evidence).toHaveLength(2);

    // After a restart the record holds: the fork is still refused, the honest log still extends.
    await w.close();
    w = await open();
    cleanup.push(() => w.close());
    expect((await post(request(5, [], note(forked, 5)))).status).toBe(409);
    expect((await post(request(5, honest.consistencyProof(5, 6), note(honest, 6)))).status).toBe(
      200,
    );
  });
});
