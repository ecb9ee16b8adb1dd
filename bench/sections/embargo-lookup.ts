import { join } from 'node:path';
import { readPrivateKey } from '../../src/keys/key-files.js';
import { generateVendorKey } from '../../src/keys/keygen.js';
import { buildRegistration } from '../../src/publish/build.js';
import { PublisherClient } from '../../src/publish/client.js';
import type { Envelope, TargetsSigned } from '../../src/tuf/metadata.js';
import { isoSeconds } from '../../src/tuf/time.js';
import { BenchRepo } from '../lib/repo.js';

/**
 * Issue 24 item 5: can a vendor that is not a member tell, by the time `GET /api/v1/embargoes/:id`
 * takes, whether the id exists? One `fairpatch serve` node (SQLite, or PostgreSQL with DATABASE_URL);
 * the two ids are asked in alternation, so drift in the machine's load hits both alike. Prints the
 * median of each and their difference, in microseconds.
 *   npm run bench -- embargo-lookup [rounds]
 */
const OPERATOR = 'bench-operator-token-0123456789abcdef';

async function register(url: string, keys: string, name: string): Promise<string> {
  const operator = new PublisherClient(url, OPERATOR);
  const top = ((await operator.request('GET', '/top-targets/latest')) as Envelope<TargetsSigned>)
    .signed;
  const body = buildRegistration({
    name,
    vendorKey: generateVendorKey(keys, name),
    targetsKey: readPrivateKey(join(keys, 'targets.key')),
    previousTop: top,
    now: Date.now(),
  });
  return ((await operator.postJson('/vendors', body)) as { token: string }).token;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run(args: readonly string[] = []): Promise<void> {
  const rounds = Number(args[0] ?? 5000);
  const repo = new BenchRepo();
  // The publisher API's rate limits out of the way: the bench asks thousands of times from one token.
  const unlimited = Object.fromEntries(
    ['PER_TOKEN_PER_SECOND', 'PER_TOKEN_BURST', 'PER_ADDRESS_PER_SECOND', 'PER_ADDRESS_BURST'].map(
      (k) => [`FAIRPATCH_PUBLISHER_${k}`, '1000000000'],
    ),
  );
  const env: Record<string, string> = {
    ...unlimited,
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
  };
  const node = await repo.node('lookup', [], env);
  try {
    await register(node.url, repo.keys, 'acme');
    const outsider = await register(node.url, repo.keys, 'initech');
    await new PublisherClient(node.url, OPERATOR).postJson('/embargoes', {
      id: 'CVE-2026-5150',
      release_at: isoSeconds(Date.now() + 3_600_000),
      members: ['acme'],
    });
    const time = async (id: string): Promise<number> => {
      const t0 = process.hrtime.bigint();
      const response = await fetch(`${node.url}/api/v1/embargoes/${id}`, {
        headers: { authorization: `Bearer ${outsider}` },
      });
      await response.arrayBuffer();
      if (response.status !== 404) throw new Error(`expected 404, got ${response.status}`);
      return Number(process.hrtime.bigint() - t0) / 1000;
    };
    for (let i = 0; i < 500; i++) await time(i % 2 ? 'CVE-2026-5150' : 'CVE-2026-0001'); // warm-up
    const existing: number[] = [];
    const missing: number[] = [];
    for (let i = 0; i < rounds; i++) {
      existing.push(await time('CVE-2026-5150'));
      missing.push(await time(`CVE-2026-${String(i % 9000).padStart(4, '0')}`));
    }
    const [e, m] = [median(existing), median(missing)];
    console.log(
      `embargo lookup by a non-member, ${rounds} rounds (${process.env.DATABASE_URL ? 'PostgreSQL' : 'SQLite'}): ` +
        `existing id median ${e.toFixed(1)} µs, missing id ${m.toFixed(1)} µs, difference ${(e - m).toFixed(1)} µs`,
    );
  } finally {
    await node.stop();
  }
}
