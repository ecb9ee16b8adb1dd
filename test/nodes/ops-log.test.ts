import { afterEach, describe, expect, it } from 'vitest';
import { rotateLogKey } from '../../src/keys/keygen.js';
import { PublisherClient, haltRelease } from '../../src/publish/client.js';
import { logRefusals } from '../../src/server/node-loops.js';
import { leafEvent } from '../../src/server/leaf-events.js';
import { createOpsLog } from '../../src/server/ops-log.js';
import { type Fixture, SECOND, createFixture, listen } from '../helpers/repo.js';
import { until } from '../helpers/until.js';

// The node's operations log: one line per publish, activation, halt, rotation, embargo decision,
// database loss and recovery, witness failure, and a summary of refusals by code.

interface Line {
  time: string;
  level: string;
  event: string;
  msg: string;
  [field: string]: unknown;
}

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** A node writing JSON lines into `lines`. */
async function loggedNode(extra: Record<string, unknown> = {}) {
  const lines: Line[] = [];
  const opsLog = createOpsLog({
    format: 'json',
    level: 'debug',
    write: (l) => lines.push(JSON.parse(l) as Line),
  });
  const fx = await createFixture({ settings: { opsLog, ...extra } });
  cleanup.push(() => fx.close());
  return { fx, lines, opsLog };
}

async function runUntil(fx: Fixture, until: number): Promise<void> {
  for (let t = fx.clock.now(); t <= until; t += SECOND) {
    fx.clock.set(t);
    await fx.node.evidence.activations();
  }
  await fx.node.sequencer.idle();
}

describe('the operations log of a node', () => {
  it('one line per publish, activation and halt; none again when a restarted node offers the same leaves', async () => {
    const { fx, lines } = await loggedNode();
    await fx.addVendor('acme');
    const releaseAt = fx.clock.now() + 30 * SECOND;
    await fx.stage('acme', {}, [await fx.artifact('agent.sh', 'fix')], releaseAt);
    await runUntil(fx, releaseAt + SECOND);
    const http = await listen(fx.node.app);
    cleanup.push(() => http.close());
    const vendor = fx.vendors.get('acme')!;
    const halted = await haltRelease({
      vendor: 'acme',
      version: '2.4.1',
      client: new PublisherClient(http.url, vendor.token),
      vendorKey: vendor.key,
      now: () => fx.clock.now(),
    });
    await runUntil(fx, Date.parse(halted.activatesAt) + SECOND);

    const of = (event: string) => lines.filter((l) => l.event === event);
    expect(of('publish')).toEqual([
      expect.objectContaining({ level: 'info', vendor: 'acme', version: 2 }),
    ]);
    expect(of('publish')[0]!.msg).toMatch(/^acme\/2 scheduled for tick \d+ \(leaf \d+\)$/);
    expect(of('halt')).toEqual([
      expect.objectContaining({ level: 'warn', vendor: 'acme', version: halted.version }),
    ]);
    expect(of('activation').map((l) => l.version)).toEqual([2, halted.version]);
    expect(of('activation')[0]!.msg).toMatch(/^acme\/2 live at tick \d+ in snapshot \d+/);

    // A node started again offers every staged version to the log: already there, no new line.
    const before = lines.length;
    await fx.openNode();
    expect(lines.slice(before).filter((l) => ['publish', 'halt'].includes(l.event))).toEqual([]);
  });

  it('a log key rotation, when a node starts with the next key beside the current one', async () => {
    const { fx, lines } = await loggedNode();
    const { vkey } = rotateLogKey(fx.keysDir, 'begin');
    await fx.openNode();
    expect(lines.filter((l) => l.event === 'rotation')).toEqual([
      expect.objectContaining({ level: 'warn', vkey, msg: expect.stringContaining(vkey) }),
    ]);
  });

  it('database loss and recovery, each once', async () => {
    const { fx, lines } = await loggedNode();
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
      code: 'ECONNREFUSED',
    });
    fx.node.monitor.failed(refused);
    fx.node.monitor.failed(refused);
    fx.node.monitor.succeeded();
    expect(lines.filter((l) => l.event === 'database').map((l) => [l.level, l.msg])).toEqual([
      ['error', expect.stringMatching(/^database unavailable: .*ECONNREFUSED/)],
      ['info', expect.stringMatching(/^database reachable again after \d+s$/)],
    ]);
  });

  it('a witness that does not cosign', async () => {
    const { fx, lines } = await loggedNode({ witnesses: ['http://127.0.0.1:1'] });
    await fx.addVendor('acme');
    await fx.node.sequencer.idle();
    await until('a witness line', () => lines.some((l) => l.event === 'witness'));
    expect(lines.find((l) => l.event === 'witness')).toMatchObject({
      level: 'warn',
      msg: expect.stringMatching(/^witness http:\/\/127\.0\.0\.1:1 did not cosign checkpoint \d+/),
    });
  });

  it('refusals summed by code per interval; nothing when there were none', async () => {
    const { fx, lines, opsLog } = await loggedNode();
    logRefusals(opsLog, 60_000); // whatever earlier requests in this process left
    const start = lines.length;
    logRefusals(opsLog, 60_000);
    expect(lines.length).toBe(start);
    for (let i = 0; i < 3; i++)
      expect((await fx.node.app.request('/no/such/route')).status).toBe(404);
    expect((await fx.node.app.request('/g/NOT A GROUP/metadata/timestamp.json')).status).toBe(400);
    logRefusals(opsLog, 60_000);
    const summary = lines.slice(start).find((l) => l.event === 'refusals');
    expect(summary).toMatchObject({ NOT_FOUND: 3, total: 4 });
    expect(summary!.msg).toMatch(/^4 refused in the last 60s: NOT_FOUND 3, \w+ 1$/);
  });
});

describe('what each leaf says in the log', () => {
  it('rotations and embargo decisions, sealed ones without what they seal', () => {
    expect(leafEvent({ type: 'log.key-rotated', v: 1, vkey: 'log+abcd+AQ' }, 7)).toMatchObject({
      level: 'warn',
      event: 'rotation',
      message: 'the log announced its next key log+abcd+AQ (leaf 7)',
    });
    expect(
      leafEvent(
        { type: 'keys.rotated', v: 1, root_version: 2, root_sha256: 'a'.repeat(64), keyids: {} },
        8,
      ),
    ).toMatchObject({
      event: 'rotation',
      message: "root 2 rotated the repository's keys (leaf 8)",
    });
    const decided = leafEvent(
      {
        type: 'embargo.decided',
        v: 2,
        commitment: 'c'.repeat(64),
        seq: 1,
        decision_sha256: 'd'.repeat(64),
      },
      9,
    );
    expect(decided).toMatchObject({
      event: 'embargo',
      message: `embargo ${'c'.repeat(16)}… decision 1 recorded, sealed until its tick (leaf 9)`,
    });
    expect(leafEvent({ type: 'receipts.batch', v: 2, documents: {}, receipts: [] }, 10)).toBe(
      undefined,
    );
  });
});

describe('log format and level', () => {
  const at = Date.parse('2026-03-01T00:00:00Z');
  it('text: time, level, event, one line even when a message holds a newline', () => {
    const lines: string[] = [];
    const log = createOpsLog({
      format: 'text',
      level: 'info',
      write: (l) => lines.push(l),
      now: () => at,
    });
    log.log('warn', 'halt', 'acme/3 halts\nforged line');
    expect(lines).toEqual(['2026-03-01T00:00:00.000Z warn  halt: acme/3 halts forged line']);
  });

  it('json: one object per line with its fields; below the level, nothing', () => {
    const lines: string[] = [];
    const log = createOpsLog({
      format: 'json',
      level: 'warn',
      write: (l) => lines.push(l),
      now: () => at,
    });
    log.log('info', 'publish', 'dropped');
    log.log('error', 'database', 'down', { since: 5, absent: undefined });
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      {
        time: '2026-03-01T00:00:00.000Z',
        level: 'error',
        event: 'database',
        msg: 'down',
        since: 5,
      },
    ]);
  });
});
