import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { type AuditOutcome, runAudit } from '../../src/audit/run.js';
import { ReceiptCollector } from './receipts.js';
import type { GroupOwners } from './owners.js';
import { type Fixture, SECOND, listen, readRoot } from './repo.js';

/** What an adversary serves a group at a tick instead of the real timestamp.json, if anything. */
export type Rewrite = (group: string, tick: number) => Buffer | undefined;

/** A server that answers `rewrite` instead of the real bytes for some polls: the adversary. */
export function adversary(fx: Fixture, rewrite: Rewrite): Hono {
  const app = new Hono();
  app.get('/g/:group/metadata/timestamp.json', (c) => {
    const forged = rewrite(c.req.param('group'), fx.node.repo.currentTick());
    return forged
      ? c.body(forged as Uint8Array<ArrayBuffer>, 200, { 'content-type': 'application/json' })
      : fx.node.app.fetch(c.req.raw);
  });
  app.all('*', (c) => fx.node.app.fetch(c.req.raw));
  return app;
}

/**
 * Time driven by hand, second by second from `from` to `to`: at each second the node logs what
 * activated, then `step` runs with the tick it is.
 */
export async function secondBySecond(
  fx: Fixture,
  from: number,
  to: number,
  step: (tick: number) => Promise<void>,
): Promise<void> {
  for (let t = from; t <= to; t += SECOND) {
    fx.clock.set(t);
    await fx.node.evidence.activations();
    await step(fx.node.repo.currentTick());
  }
}

/**
 * Time driven by hand second by second from `from` to `to`: each group polls `server` every 5 s at
 * its own phase (every group at tick `pollAllAt`); then the receipts are handed in and the roll-ups
 * logged.
 */
export async function pollGroupsByHand(
  fx: Fixture,
  server: Hono,
  options: {
    groups: string[];
    from: number;
    to: number;
    pollAllAt?: number | undefined;
    /** The groups' owners, who vouch for the agents. */
    owners?: GroupOwners;
  },
): Promise<void> {
  const collector = new ReceiptCollector(fx.clock, 3, options.owners);
  await secondBySecond(fx, options.from, options.to, async (k) => {
    for (const [i, group] of options.groups.entries())
      if ((k + i * 2) % 5 === 0 || k === options.pollAllAt) await collector.poll(server, group);
  });
  await fx.node.evidence.rollup();
  await collector.submit(fx.node.app);
  await fx.node.sequencer.idle();
}

/**
 * Serves the fixture's node over HTTP (closed through `cleanup`) and returns an audit of it pinned
 * to root 1, keeping its state from one run to the next.
 */
export async function auditOverHttp(
  fx: Fixture,
  cleanup: Array<() => Promise<void>>,
): Promise<() => Promise<AuditOutcome>> {
  const http = await listen(fx.node.app);
  cleanup.push(() => http.close());
  const stateDir = mkdtempSync(join(tmpdir(), 'fairpatch-audit-'));
  const root = readRoot(fx.keysDir);
  return () =>
    runAudit({
      server: http.url,
      stateDir,
      logKey: fx.node.logVerifierKey,
      root,
      now: fx.clock.now(),
    });
}
