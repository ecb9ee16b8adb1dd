import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { witnessAckSchema } from '../../src/common/witness.js';
import { openCheckpoint } from '../../src/log/checkpoint.js';
import { parseVerifierKey } from '../../src/log/note.js';
import { cli } from '../helpers/cli.js';
import { startProcess } from '../helpers/process.js';
import { SimAgent } from '../helpers/receipts.js';
import { createFixture, listen } from '../helpers/repo.js';
import { postReceipts, witnessServeArgs } from '../helpers/witness.js';

const env = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => name !== 'DATABASE_URL'),
);

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe('fairpatch keygen --witness and fairpatch witness serve (real processes)', () => {
  it('writes a 0600 key and its verifier key, serves receipt intake signed by that key, and keeps the log across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fp-witness-cli-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const made = await cli(['keygen', '--witness', 'w1'], { cwd: dir });
    expect(made.code).toBe(0);
    const printed = JSON.parse(made.stdout) as { verifier_key: string };
    expect(parseVerifierKey(printed.verifier_key).name).toBe('witness/w1');
    expect(statSync(join(dir, 'w1.key')).mode & 0o777).toBe(0o600);
    expect((await cli(['keygen', '--witness', 'w1'], { cwd: dir })).code).not.toBe(0);

    const fx = await createFixture();
    cleanup.push(() => fx.close());
    const node = await listen(fx.node.app);
    cleanup.push(() => node.close());
    const args = witnessServeArgs(node.url, fx.keysDir, dir);
    let witness = await startProcess(args, { env, timeoutMs: 20_000 });
    cleanup.push(() => witness.stop());
    expect(witness.output()).toContain(printed.verifier_key);

    const agent = new SimAgent('eu-west', fx.clock);
    await agent.poll(fx.node.app);
    const first = await postReceipts(witness.url, agent.batch());
    expect(first.status).toBe(201);
    const ack = witnessAckSchema.parse(first.body);
    expect(openCheckpoint(ack.checkpoint, parseVerifierKey(printed.verifier_key)).size).toBe(1);

    await witness.stop();
    witness = await startProcess(args, { env, timeoutMs: 20_000 });
    cleanup.push(() => witness.stop());
    const replay = witnessAckSchema.parse((await postReceipts(witness.url, agent.batch())).body);
    expect(replay.replayed).toBe(1);
    expect(replay.entries[0]!.index).toBe(ack.entries[0]!.index);
  });
});
