import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/db/connect.js';
import { BACKSTOP_PAGES } from '../../src/db/wal-checkpointer.js';
import type { Db } from '../../src/db/schema.js';
import { until } from '../helpers/until.js';

// SQLite's write-ahead log is copied back into the database file by a connection on a worker
// thread, not by the event loop's commits: the file grows while the writer stays far below its
// own (backstop) checkpoint threshold.
describe('SQLite WAL checkpoints off the event loop', () => {
  let dir: string;
  let db: Db | undefined;
  afterEach(async () => {
    await db?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('moves committed pages into the database file while the writer never checkpoints', async () => {
    dir = mkdtempSync(join(tmpdir(), 'wal-'));
    const file = join(dir, 'db.sqlite');
    db = await connect({ url: file });
    const before = statSync(file).size;
    await sql`create table filler (id integer primary key, data text not null)`.execute(db);
    const row = 'x'.repeat(4000); // about a page each
    for (let i = 0; i < 10; i++)
      await db
        .insertInto('filler' as never)
        .values(Array.from({ length: 50 }, () => ({ data: row })) as never)
        .execute();
    // 500 pages committed: a twentieth of what would make the writer checkpoint on its own.
    expect(500).toBeLessThan(BACKSTOP_PAGES / 10);
    await until(
      'the database file to take the committed pages',
      () => (statSync(file).size > before + 400 * 4096 ? true : undefined),
      { timeoutMs: 15_000 },
    );
    // Closed whole once destroy() resolves: the checkpointer's connection first, then the writer's,
    // the last, whose closing checkpoint removes the WAL (a process about to fork finds it closed).
    await db.destroy();
    db = undefined;
    expect(existsSync(`${file}-wal`)).toBe(false);
  });
});
