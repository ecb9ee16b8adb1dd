import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signObservation } from '../../src/common/observation.js';
import { SimAgent } from '../helpers/receipts.js';
import { auditOverHttp } from '../helpers/audit-scenario.js';
import { type Fixture, createFixture } from '../helpers/repo.js';

// Text a hostile party chooses ends up in log leaves. If it could make a leaf unreadable, one agent
// (or one vendor) could make every audit of the repository fail: cannot verify, for everyone.

let fx: Fixture;
beforeEach(async () => {
  fx = await createFixture();
  await fx.addVendor('acme');
});
afterEach(() => fx.close());

describe('text chosen by a hostile party', () => {
  it('an agent receipt with newlines and control characters is logged and the log still audits', async () => {
    const agent = new SimAgent('eu-west', fx.clock);
    await agent.poll(fx.node.app);
    const { observation } = agent.receipts[0]!;
    const at = observation.first_at;
    agent.receipts[0] = signObservation(
      {
        ...observation,
        path_failures: [
          { via: '/g/eu-west\n', error: 'line one\nline two \u0001 "quoted" \\', at },
        ],
        artifact_failures: [{ target: 'acme/x\r\n.sh', error: '\t\u0000', at }],
      },
      agent.seed,
    );
    await agent.submit(fx.node.app);
    await fx.node.sequencer.idle();
    const cleanup: Array<() => Promise<void>> = [];
    try {
      const outcome = await (await auditOverHttp(fx, cleanup))();
      expect(outcome.error).toBeUndefined();
      expect(outcome.report!.logSize).toBeGreaterThan(1);
    } finally {
      for (const c of cleanup) await c();
    }
  });

  it("a vendor's version range with a newline is refused at the door (its metadata's canonical bytes would keep it raw)", async () => {
    const envelope = await fx.release(
      'acme',
      { applies_to: '>=1.0.0\n<2.4.1' },
      [await fx.artifact('acme-agent-2.4.1.sh', 'echo fix\n')],
      fx.clock.now() + 60_000,
    );
    await expect(fx.node.repo.stageVendorMetadata('acme', envelope)).rejects.toMatchObject({
      code: 'METADATA_INVALID',
    });
  });
});
