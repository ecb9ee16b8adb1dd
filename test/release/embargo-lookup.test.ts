import type { KyselyPlugin, OperationNode } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Embargoes } from '../../src/release/embargo.js';
import { EmbargoStore } from '../../src/release/embargo-store.js';
import { isoSeconds } from '../../src/tuf/time.js';
import { DIALECTS, freshDatabase } from '../helpers/dialects.js';
import { type Fixture, MINUTE, createFixture, listen } from '../helpers/repo.js';

const ID = 'CVE-2026-5150';

/** Every statement the store sends, as its kind and tables (the ids it names left out). */
function recorder(): { plugin: KyselyPlugin; statements: string[] } {
  const statements: string[] = [];
  const tables = (node: OperationNode): string[] =>
    JSON.stringify(node).match(/"identifier":"[a-z_]+"/g) ?? [];
  return {
    statements,
    plugin: {
      transformQuery: ({ node }) => {
        statements.push(`${node.kind} ${tables(node).join(' ')}`);
        return node;
      },
      transformResult: async ({ result }) => result,
    },
  };
}

// Issue 24 item 5: whether an embargo id exists must not show to a non-member, neither in the answer
// nor in the work done to give it (its time: bench/sections/embargo-lookup.ts measures it).
describe.each(DIALECTS)('%s: an embargo lookup by a non-member', (dialect) => {
  let fx: Fixture;
  beforeEach(async () => {
    fx = await createFixture({ databaseUrl: await freshDatabase(dialect) });
    for (const v of ['acme', 'initech']) await fx.addVendor(v);
    await fx.node.repo.embargoes.create({
      id: ID,
      release_at: isoSeconds(fx.clock.now() + 2 * MINUTE),
      members: ['acme'],
    });
  });
  afterEach(() => fx.close());

  it('sends the same statements and gets the same refusal for a missing id and another’s embargo', async () => {
    const seen = async (id: string) => {
      const { plugin, statements } = recorder();
      const embargoes = new Embargoes(
        fx.node.repo,
        new EmbargoStore(fx.node.db.withPlugin(plugin)),
      );
      const error = await embargoes.view(id, 'initech').catch((e: unknown) => e);
      return { statements, error: { ...(error as object), message: (error as Error).message } };
    };
    const existing = await seen(ID);
    const missing = await seen('CVE-2026-0001');
    expect(existing.statements.length).toBeGreaterThan(0);
    expect(existing).toEqual(missing);
    expect(missing.error).toMatchObject({ code: 'NOT_FOUND', message: 'no such embargo' });
    // A member reads it.
    expect((await fx.node.repo.embargoes.view(ID, 'acme')).id).toBe(ID);
  });

  it('answers both over HTTP with the same status, headers and body', async () => {
    const server = await listen(fx.node.app);
    try {
      const get = async (id: string) => {
        const r = await fetch(`${server.url}/api/v1/embargoes/${id}`, {
          headers: { authorization: `Bearer ${fx.vendors.get('initech')!.token}` },
        });
        const headers = Object.fromEntries(
          [...r.headers].filter(([k]) => !['date', 'x-request-id'].includes(k)),
        );
        return { status: r.status, headers, body: await r.text() };
      };
      expect(await get(ID)).toEqual(await get('CVE-2026-0001'));
    } finally {
      await server.close();
    }
  });
});
