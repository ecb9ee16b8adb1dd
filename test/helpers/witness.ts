import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../src/common/clock.js';
import { generateWitnessKey, readWitnessKey } from '../../src/witness/key.js';
import { type Witness, type WitnessOptions, createWitness } from '../../src/witness/node.js';
import { CLI } from './cli.js';
import { listen, readRoot } from './repo.js';

export interface WitnessFixture {
  witness: Witness;
  url: string;
  dir: string;
  keyPath: string;
  vkeyPath: string;
  close(): Promise<void>;
}

export { readRoot } from './repo.js';

/** A witness over real HTTP on 127.0.0.1, its own SQLite file and key, following `keysDir`'s root. */
/**
 * The command line of `fairpatch witness serve` (any free port) following the log at `logUrl` of the
 * repository whose keys are in `keysDir`, with its key `w1.key` and its data in `dir`.
 */
export function witnessServeArgs(logUrl: string, keysDir: string, dir: string): string[] {
  return [
    CLI,
    'witness',
    'serve',
    '--port',
    '0',
    '--log',
    logUrl,
    '--log-key',
    join(keysDir, 'log.vkey'),
    '--root',
    join(keysDir, '1.root.json'),
    '--key',
    join(dir, 'w1.key'),
    '--data',
    join(dir, 'data'),
  ];
}

export async function startWitness(
  keysDir: string,
  clock: Clock,
  extra: Partial<WitnessOptions> = {},
): Promise<WitnessFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'fp-witness-'));
  const keyPath = join(dir, 'w1.key');
  generateWitnessKey(keyPath, 'w1');
  const unlimited = { perSecond: 1e9, burst: 1e9 };
  const witness = await createWitness({
    dataDir: join(dir, 'data'),
    key: readWitnessKey(keyPath),
    root: readRoot(keysDir),
    clock,
    perAddress: unlimited,
    // The global pools out of the way too; test/witness/intake.test.ts sets them to test them.
    unvouchedReceiptsPerMinute: 1e9,
    clientBytesPerMinute: 1e12,
    ...extra,
  });
  const http = await listen(witness.app);
  return {
    witness,
    url: http.url,
    dir,
    keyPath,
    vkeyPath: join(dir, 'w1.vkey'),
    async close() {
      await http.close();
      await witness.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function postReceipts(
  url: string,
  body: unknown,
): Promise<{
  status: number;
  body: { error: { code: string; message: string } } & Record<string, unknown>;
}> {
  const response = await fetch(`${url}/receipts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    body: (await response.json()) as { error: { code: string; message: string } } & Record<
      string,
      unknown
    >,
  };
}
