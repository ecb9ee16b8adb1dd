import { afterEach, describe, expect, it } from 'vitest';
import type { SignedEnrollment } from '../../src/common/enrollment.js';
import { type SignedInstallReport, signInstallReport } from '../../src/common/install-report.js';
import { tickAt } from '../../src/common/tick.js';
import { parseVerifierKey } from '../../src/log/note.js';
import { verifyPauseEvidence } from '../../src/rollout/pause-evidence.js';
import type { FairpatchNode } from '../../src/server/node.js';
import { DIALECTS, freshDatabase } from '../helpers/dialects.js';
import { GroupOwners } from '../helpers/owners.js';
import { SimAgent, overHttp } from '../helpers/receipts.js';
import { listen } from '../helpers/repo.js';
import { THREE_STAGES, stagedRelease } from './staged-setup.js';

// The automatic pause's count of vouched failures is the database's, not one node's: reports split
// across two nodes of one database reach the threshold together, and a node restarted between
// reports keeps what it counted. Two nodes crossing the threshold at once log one pause.

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const GROUP = 'eu-west';
const RELEASE = 'acme/acme-agent@2.4.1';

async function pausingRelease(dialect: (typeof DIALECTS)[number]) {
  const owners = new GroupOwners([GROUP], () => Date.now());
  const s = await stagedRelease(cleanup, {
    rollout: { stages: THREE_STAGES, pause_on: { failures: 3 } },
    owners: { groups: [GROUP], owners },
    databaseUrl: await freshDatabase(dialect),
  });
  s.fx.clock.set(s.releaseAt);
  await s.node.evidence.activations();
  /** A vouched agent that polled `url` and sent it its receipts with its certificate. */
  const vouchedAgent = async (url: string) => {
    const a = new SimAgent(GROUP, s.fx.clock).enrolledBy(owners);
    await introduce(a, url);
    return a;
  };
  /** Another poll and its receipts: a node learns the key is vouched from the certificate. */
  const introduce = async (a: SimAgent, url: string) => {
    await a.poll(overHttp(url));
    await a.submit(overHttp(url));
  };
  const failure = (a: SimAgent): SignedInstallReport =>
    signInstallReport(
      {
        v: 1,
        agent: a.publicKey,
        group: GROUP,
        product: 'acme-agent',
        version: '2.4.1',
        outcome: 'failed',
        at: new Date(s.fx.clock.now()).toISOString(),
      },
      a.seed,
    );
  /** Posts `a`'s failure report, with `enrollment` if given (the owner's certificate an agent carries). */
  const report = async (url: string, a: SimAgent, enrollment?: SignedEnrollment, status = 201) => {
    const r = await fetch(`${url}/api/v1/reports`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...failure(a), ...(enrollment ? { enrollment } : {}) }),
    });
    expect(r.status).toBe(status);
  };
  /** Keys in the vouched tally both nodes share. */
  const vouchedTally = async () =>
    (
      await s.node.db
        .selectFrom('auto_pause_failures')
        .select('agent')
        .where('release', '=', RELEASE)
        .execute()
    ).length;
  const pauses = async (node: FairpatchNode, url: string) => {
    await node.sequencer.idle();
    const r = await fetch(`${url}/log/rollout-pauses?release=${encodeURIComponent(RELEASE)}`);
    expect(r.status).toBe(200);
    return verifyPauseEvidence({
      body: await r.json(),
      release: RELEASE,
      log: parseVerifierKey(s.logKey),
    });
  };
  /** The `rollout.auto-paused` leaves in the log, read from the database both nodes share. */
  const pauseLeaves = async () =>
    (await s.node.db.selectFrom('log_leaves').select('data').execute()).filter((row) =>
      row.data.includes('"rollout.auto-paused"'),
    ).length;
  return { s, owners, vouchedAgent, introduce, report, pauses, pauseLeaves, vouchedTally };
}

describe.each(DIALECTS)('the automatic pause counts in the database (%s)', (dialect) => {
  it('reports split across two nodes pause the release once, even crossing the threshold at once', async () => {
    const { s, vouchedAgent, report, pauses, pauseLeaves } = await pausingRelease(dialect);
    const second = await s.open();
    cleanup.push(() => second.close());
    const other = await listen({ fetch: (request: Request) => second.app.fetch(request) });
    cleanup.push(() => other.close());

    const [a, b] = [await vouchedAgent(s.url), await vouchedAgent(other.url)];
    await report(s.url, a);
    await report(other.url, b);
    expect(await pauses(s.node, s.url)).toEqual([]);
    // The third and fourth keys, one on each node at once: both nodes see the threshold reached.
    const [c, d] = [await vouchedAgent(s.url), await vouchedAgent(other.url)];
    await Promise.all([report(s.url, c), report(other.url, d)]);
    await second.sequencer.idle();
    const tick = tickAt(s.node.repo.config, s.fx.clock.now()) + 1;
    expect(await pauses(s.node, s.url)).toEqual([{ action: 'pause', tick }]);
    expect(await pauses(second, other.url)).toEqual([{ action: 'pause', tick }]);
    expect(await pauseLeaves()).toBe(1);
    // A later failure on either node logs nothing more.
    await report(other.url, await vouchedAgent(other.url));
    await second.sequencer.idle();
    expect(await pauseLeaves()).toBe(1);
  }, 120_000);

  it('a node restarted between reports keeps its count', async () => {
    const { s, vouchedAgent, introduce, report, pauses, pauseLeaves } =
      await pausingRelease(dialect);
    const [a, b, c] = [
      await vouchedAgent(s.url),
      await vouchedAgent(s.url),
      await vouchedAgent(s.url),
    ];
    await report(s.url, a);
    // A restarted node learns a key is vouched from its next receipts (the intake's memory).
    await s.restart();
    await introduce(b, s.url);
    await report(s.url, b);
    await s.restart();
    await introduce(c, s.url);
    expect(await pauses(s.node, s.url)).toEqual([]);
    await report(s.url, c);
    const tick = tickAt(s.node.repo.config, s.fx.clock.now()) + 1;
    expect(await pauses(s.node, s.url)).toEqual([{ action: 'pause', tick }]);
    expect(await pauseLeaves()).toBe(1);
  }, 120_000);

  it('a report carrying its certificate is vouched on a node that never saw its receipts', async () => {
    const { s, vouchedAgent, report, pauses, vouchedTally } = await pausingRelease(dialect);
    const second = await s.open();
    cleanup.push(() => second.close());
    const other = await listen({ fetch: (request: Request) => second.app.fetch(request) });
    cleanup.push(() => other.close());
    // Receipts (and certificates) went to the first node only; the failures go to the second.
    const [a, b, c] = [
      await vouchedAgent(s.url),
      await vouchedAgent(s.url),
      await vouchedAgent(s.url),
    ];
    await report(other.url, a, a.enrollment);
    expect(await vouchedTally()).toBe(1);
    // And to the first node after a restart, before any new receipt.
    await s.restart();
    await report(s.url, b, b.enrollment);
    expect(await vouchedTally()).toBe(2);
    await report(other.url, c, c.enrollment);
    await second.sequencer.idle();
    const tick = tickAt(s.node.repo.config, s.fx.clock.now()) + 1;
    expect(await pauses(s.node, s.url)).toEqual([{ action: 'pause', tick }]);
  }, 120_000);

  it('a certificate for another key, or by an owner not declared, vouches for nothing', async () => {
    const { s, owners, report, vouchedTally } = await pausingRelease(dialect);
    const [a, b] = [new SimAgent(GROUP, s.fx.clock), new SimAgent(GROUP, s.fx.clock)];
    // b's certificate on a's report: refused, as in a receipt batch, and not counted.
    await report(s.url, a, owners.certify(GROUP, b.publicKey), 400);
    // A certificate signed by an owner key the operator never declared: taken, but unvouched.
    const stranger = new GroupOwners([GROUP], () => s.fx.clock.now());
    await report(s.url, a, stranger.certify(GROUP, a.publicKey));
    await report(s.url, b, stranger.certify(GROUP, b.publicKey));
    expect(await vouchedTally()).toBe(0);
    // A key with its declared owner's certificate counts: what the check above refused is the owner.
    const c = new SimAgent(GROUP, s.fx.clock);
    await report(s.url, c, owners.certify(GROUP, c.publicKey));
    expect(await vouchedTally()).toBe(1);
  }, 120_000);
});
