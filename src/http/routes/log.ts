import { Hono } from 'hono';
import { FairpatchError } from '../../errors.js';
import type { LogStore } from '../../log/store.js';
import { intParam } from '../query.js';
import { ENTRIES_PAGE_BYTES } from '../../log/limits.js';
import { keyRotationProofs } from '../../log/key-rotation-proofs.js';
import { parseCheckpoint } from '../../log/checkpoint.js';
import { TileFiles } from '../../log/tile-files.js';
import { tileRoutes } from './log-tiles.js';

/** Most entries one request returns; auditors page through larger ranges. */
export const MAX_ENTRIES = 1000;

const hex = (proof: Uint8Array[]): string[] => proof.map((p) => Buffer.from(p).toString('hex'));

/** Transparency log endpoints: checkpoint, entries, inclusion and consistency proofs. */
export function logRoutes(deps: {
  log: LogStore;
  verifierKey: string;
  /** Witnesses cosign this log: serve the newest checkpoint they cosigned (LogStore.newestCosigned). */
  witnessed?: boolean;
}): Hono {
  const { log } = deps;
  const app = new Hono();
  const origin = deps.verifierKey.split('+')[0]!;
  // One indexed read either way, as before: no cache to go stale between a cosignature and a poll.
  let servedSize = 0;
  const checkpoint = async (): Promise<string | undefined> => {
    if (!deps.witnessed) return log.checkpoint();
    const note = await log.newestCosigned(origin, servedSize);
    if (note)
      servedSize = Math.max(
        servedSize,
        parseCheckpoint(note.slice(0, note.lastIndexOf('\n\n') + 1)).size,
      );
    return note;
  };

  app.get('/key', (c) => c.text(deps.verifierKey + '\n'));

  // How a client pinned to an earlier log key follows a rotation (src/log/log-keys.ts).
  app.get('/key-rotations', async (c) =>
    c.json(await keyRotationProofs(log), 200, { 'Cache-Control': 'no-cache' }),
  );

  app.get('/checkpoint', async (c) => {
    const note = await checkpoint();
    if (!note) throw new FairpatchError('NOT_FOUND', 'the log is empty');
    return c.text(note, 200, { 'Cache-Control': 'no-cache' });
  });

  app.get('/entries', async (c) => {
    const start = intParam(c, 'start');
    const end = intParam(c, 'end');
    if (end <= start || end - start > MAX_ENTRIES)
      throw new FairpatchError(
        'QUERY_INVALID',
        `need start < end and at most ${MAX_ENTRIES} entries`,
      );
    const { size } = await log.head();
    if (end > size) throw new FairpatchError('QUERY_INVALID', `the log has ${size} entries`);
    // Bounded in bytes too: a page ends before its entries pass ENTRIES_PAGE_BYTES (at least one).
    const entries = await log.entriesPage(start, end, ENTRIES_PAGE_BYTES);
    // Entries below the size are immutable: cache them like TUF's consistent snapshots.
    return c.json({ entries }, 200, { 'Cache-Control': 'public, max-age=31536000, immutable' });
  });

  app.get('/proof/inclusion', async (c) => {
    const index = intParam(c, 'index');
    const size = intParam(c, 'size');
    return c.json({ index, size, proof: hex(await log.inclusionProof(index, size)) });
  });

  app.get('/proof/consistency', async (c) => {
    const first = intParam(c, 'first');
    const second = intParam(c, 'second');
    return c.json({ first, second, proof: hex(await log.consistencyProof(first, second)) });
  });

  // C2SP tlog-tiles: the same tree as static, cacheable files (src/http/routes/log-tiles.ts).
  app.route('/', tileRoutes(new TileFiles(log)));

  return app;
}
