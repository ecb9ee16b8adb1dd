import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/db/connect.js';
import { generateRepositoryKeys } from '../../src/keys/keygen.js';
import { WITNESS_LIMITS } from '../../src/witness/config.js';
import { generateWitnessKey, readWitnessKey } from '../../src/witness/key.js';
import { createWitness } from '../../src/witness/node.js';
import { DIALECTS, freshDatabase } from '../helpers/dialects.js';
import { readRoot } from '../helpers/repo.js';

// Witnesses before the witness migrations created their two tables at every start, outside any
// Migrator: these are those statements (src/witness/schema.ts at commit 020387a, as Kysely compiled them).
const OLD_CREATE = [
  'create table if not exists "witness_checkpoints" ("origin" text primary key, "size" bigint not null, "root" text not null, "note" text not null, "updated_at" bigint not null)',
  'create table if not exists "witness_evidence" ("digest" text primary key, "origin" text not null, "reason" text not null, "request" text not null, "witnessed" text not null, "received_at" bigint not null)',
];
const ORIGIN = 'patches.example/log';
const NOTE = `${ORIGIN}\n7\nroot\n\n— ${ORIGIN} sig\n`;

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe.each(DIALECTS)('a witness database from before its migrations (%s)', (dialect) => {
  it('opens under the Migrator, its checkpoint and evidence rows kept; a fresh one is migrated alike', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fp-witness-schema-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    generateRepositoryKeys({ dir: join(dir, 'keys'), now: Date.now() });
    generateWitnessKey(join(dir, 'w1.key'), 'w1');
    const databaseUrl = await freshDatabase(dialect);
    const dataDir = join(dir, 'data');

    // The old witness: the node's migrations (connect), then its tables made by hand, with rows.
    const old = await connect({
      url: databaseUrl ?? join(dataDir, 'witness.sqlite'),
      connectTimeoutMs: WITNESS_LIMITS.databaseConnectTimeoutMs,
      poolSize: WITNESS_LIMITS.databasePoolSize,
      statementTimeoutMs: WITNESS_LIMITS.databaseStatementTimeoutMs,
    });
    for (const statement of OLD_CREATE) await sql.raw(statement).execute(old);
    await sql`insert into witness_checkpoints values (${ORIGIN}, 7, 'root', ${NOTE}, 1000)`.execute(
      old,
    );
    await sql`insert into witness_evidence values ('d1', ${ORIGIN}, 'forked', 'old 7', ${NOTE}, 1001)`.execute(
      old,
    );
    await old.destroy();

    const open = () =>
      createWitness({
        dataDir,
        ...(databaseUrl ? { databaseUrl } : {}),
        key: readWitnessKey(join(dir, 'w1.key')),
        root: readRoot(join(dir, 'keys')),
      });
    const applied = async (w: Awaited<ReturnType<typeof open>>) =>
      (
        await sql<{ name: string }>`select name from witness_migration order by name`.execute(w.db)
      ).rows.map((r) => r.name);
    const evidence = async (w: Awaited<ReturnType<typeof open>>) =>
      (await sql<{ digest: string }>`select digest from witness_evidence`.execute(w.db)).rows;

    for (let start = 0; start < 2; start++) {
      const witness = await open();
      try {
        expect(await applied(witness)).toEqual(['0001_witness_tables']);
        expect(await witness.checkpoints.latest(ORIGIN)).toBe(NOTE);
        expect(await evidence(witness)).toEqual([{ digest: 'd1' }]);
      } finally {
        await witness.close();
      }
    }

    // A witness database made today gets the same tables from the same list.
    const fresh = await freshDatabase(dialect);
    const witness = await createWitness({
      dataDir: join(dir, 'fresh'),
      ...(fresh ? { databaseUrl: fresh } : {}),
      key: readWitnessKey(join(dir, 'w1.key')),
      root: readRoot(join(dir, 'keys')),
    });
    try {
      expect(await applied(witness)).toEqual(['0001_witness_tables']);
      expect(await witness.checkpoints.latest(ORIGIN)).toBeUndefined();
      expect(await evidence(witness)).toEqual([]);
    } finally {
      await witness.close();
    }
  });
});
