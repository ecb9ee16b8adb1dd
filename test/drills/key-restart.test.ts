import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, expectOneLine } from '../helpers/cli.js';
import { DIALECTS, freshDatabase } from '../helpers/dialects.js';
import { DrillNode, report, sameTickBytes, servedDocuments, waitTicks } from '../helpers/drill.js';
import { registerVendor } from '../helpers/nodes.js';

const OPERATOR = 'drill-operator-token-0123456789abcdef';
const sha256File = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

// Every key operation an operator runs, each followed by a restart of every node: what the nodes
// serve must not change (issue 24: a node never came back after a root rotation, exit 69). Over
// PostgreSQL a second node, given a copy of the keys directory, joins after each step.
describe.each(DIALECTS)('key operations then a restart of every node (%s)', (dialect) => {
  const dir = mkdtempSync(join(tmpdir(), `fairpatch-drill-keys-${dialect}-`));
  const keys = join(dir, 'keys');
  const nodes: DrillNode[] = [];
  afterAll(async () => {
    for (const node of nodes) await node.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the same bytes after each restart, and a joining node serves them too', async () => {
    const started = performance.now();
    expect((await cli(['keygen', '--keys', keys])).code).toBe(0);
    const databaseUrl = await freshDatabase(dialect);
    const env: Record<string, string> = {
      FAIRPATCH_OPERATOR_TOKEN: OPERATOR,
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    };
    const argsFor = (name: string) => [
      '--data',
      join(dir, `data-${name}`),
      '--keys',
      keys,
      '--min-lead',
      '2s',
      '--node-name',
      name,
    ];
    nodes.push(await DrillNode.start('one', argsFor('one'), env));
    const urls = () => nodes.map((n) => n.url);
    const acme = await registerVendor(nodes[0]!.url, OPERATOR, keys, 'acme');

    const asOperator = (args: string[]) =>
      cli([...args, '--server', nodes[0]!.url, '--token', OPERATOR]);
    const operations: Array<[string, () => Promise<{ code: number; stderr: string }>]> = [
      [
        'root rotate --root-keys 3 --root-threshold 2',
        () =>
          asOperator([
            'root',
            'rotate',
            '--keys',
            keys,
            '--root-keys',
            '3',
            '--root-threshold',
            '2',
          ]),
      ],
      [
        'root rotate --rotate timestamp',
        () => asOperator(['root', 'rotate', '--keys', keys, '--rotate', 'timestamp']),
      ],
      [
        'vendor rotate',
        async () => {
          const vendorKeys = join(dir, 'vendor-keys');
          await cli(['keygen', '--keys', vendorKeys, '--vendor', 'acme-next']);
          const request = join(dir, 'acme.rotate.json');
          const requested = await cli([
            'vendor',
            'request',
            '--rotate',
            '--name',
            'acme',
            '--key',
            join(vendorKeys, 'acme-next.key'),
            '--server',
            nodes[0]!.url,
            '--token',
            acme.token,
            '--out',
            request,
          ]);
          if (requested.code !== 0) return requested;
          return asOperator(['vendor', 'rotate', '--request', request, '--keys', keys]);
        },
      ],
      ['log rotate begin', () => cli(['log', 'rotate', 'begin', '--keys', keys])],
      ['log rotate promote', () => cli(['log', 'rotate', 'promote', '--keys', keys])],
    ];

    for (const [operation, run] of operations) {
      const done = await run();
      expect(done.code, `${operation}: ${done.stderr}`).toBe(0);
      // Past the change's tick (the lead time is 2 s, a tick 1 s) on every node.
      await waitTicks(urls(), 4);
      const before = await servedDocuments(nodes[0]!.url);
      // A promotion is the one step a restart is for: from then on the nodes sign with the new key.
      if (operation === 'log rotate promote')
        before['/log/key'] = sha256File(join(keys, 'log.vkey'));
      for (const node of nodes) {
        const ms = await node.restart().catch((error: unknown) => {
          throw new Error(`after ${operation}, ${node.name} did not start again: ${String(error)}`);
        });
        report(
          `${dialect}: after ${operation}, ${node.name} restarted to first poll in ${ms.toFixed(0)} ms`,
        );
      }
      for (const node of nodes)
        expect(await servedDocuments(node.url), `${node.name} after ${operation}`).toEqual(before);

      if (dialect === 'postgres') {
        // A node that joins now, with the keys directory as it is after the operation.
        const name = `joined-${nodes.length}`;
        nodes.push(await DrillNode.start(name, argsFor(name), env));
        expect(await servedDocuments(nodes.at(-1)!.url), `${name} after ${operation}`).toEqual(
          before,
        );
      }
      const bytes = await sameTickBytes(urls());
      for (const b of bytes) expect(b.equals(bytes[0]!), operation).toBe(true);
    }

    // A node whose keys directory lacks the current root's new timestamp key says which and where
    // from, in one line, and exits 69 (KEY_UNAVAILABLE), instead of serving 503s.
    const partial = join(dir, 'keys-partial');
    cpSync(keys, partial, { recursive: true });
    rmSync(join(partial, 'timestamp-v3.key'));
    // SQLite is one node's: the node itself is the one started again without the key.
    if (dialect === 'sqlite') await nodes[0]!.stop();
    const name = dialect === 'sqlite' ? 'one' : 'partial';
    const failed = await cli(
      ['serve', '--port', '0', '--host', '127.0.0.1', '--workers', '1', ...argsFor(name)].map(
        (a) => (a === keys ? partial : a),
      ),
      { env },
    );
    expect(failed.code, failed.stderr).toBe(69);
    expectOneLine(failed.stderr);
    expect(failed.stderr).toMatch(
      /lacks the online keys of root 3, in effect from tick \d+: no key file in \S+ matches the timestamp key of root 3 \(keyid [0-9a-f]{64}\): copy .* into \S+ \[KEY_UNAVAILABLE\]/,
    );
    if (dialect === 'sqlite') await nodes[0]!.restart();
    report(
      `${dialect}: key operations and restarts took ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  }, 180_000);
});
