import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateRepositoryKeys } from '../../src/keys/keygen.js';
import { startServer } from '../helpers/cli.js';
import { until } from '../helpers/until.js';

interface Health {
  ok: boolean;
  problems: string[];
}

describe('storage that cannot be written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fairpatch-storage-'));
  generateRepositoryKeys({ dir: join(dir, 'keys'), now: Date.now() });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('makes healthz fail, naming the path, until it can be written again', async () => {
    const data = join(dir, 'data');
    const node = await startServer(['--data', data, '--keys', join(dir, 'keys')]);
    try {
      const health = async () => {
        const response = await fetch(`${node.url}/healthz`);
        return { status: response.status, ...((await response.json()) as Health) };
      };
      expect(await health()).toMatchObject({ status: 200, ok: true, problems: [] });
      // Where uploads are written becomes a file: as unwritable as it gets, even for root.
      const tmp = join(data, 'blobs', 'tmp');
      rmSync(tmp, { recursive: true, force: true });
      writeFileSync(tmp, '');
      const failing = await until('healthz to fail', async () => {
        const h = await health();
        return h.ok ? undefined : h;
      });
      expect(failing.status).toBe(503);
      expect(failing.problems.join('\n')).toContain(join(data, 'blobs'));
      rmSync(tmp);
      mkdirSync(tmp);
      await until('healthz to recover', async () => ((await health()).ok ? true : undefined));
    } finally {
      await node.stop();
    }
  }, 60_000);
});
