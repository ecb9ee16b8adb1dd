import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { evaluateFairness } from '../../src/audit/fairness.js';
import { openSealedSchedules } from '../../src/audit/sealed-schedules.js';
import { activationTick } from '../../src/common/tick.js';
import { type Leaf, parseLeaf } from '../../src/log/leaves.js';
import { isoSeconds } from '../../src/tuf/time.js';
import { DIALECTS, freshDatabase } from '../helpers/dialects.js';
import { type Fixture, MINUTE, createFixture } from '../helpers/repo.js';

const ID = 'CVE-2026-6060';
const MEMBERS = ['acme', 'globex'];

async function logged(fx: Fixture): Promise<Leaf[]> {
  await fx.node.sequencer.idle();
  const { size } = await fx.node.log.head();
  return (await fx.node.log.entries(0, size)).map((e) => parseLeaf(Buffer.from(e.data)));
}

// Issue 24 item 4: until the embargo's tick the public log must not say who is in it, who is ready,
// nor when it ends; from the reveal on, the auditor checks all of it as before.
describe.each(DIALECTS)('%s: an embargo in the public log', (dialect) => {
  let fx: Fixture;
  beforeEach(async () => {
    fx = await createFixture({ databaseUrl: await freshDatabase(dialect) });
    for (const v of [...MEMBERS, 'quill']) await fx.addVendor(v);
  });
  afterEach(() => fx.close());

  it('names neither the members nor the tick before it, and is audited in full after the reveal', async () => {
    const embargoes = fx.node.repo.embargoes;
    const first = fx.clock.now() + 2 * MINUTE;
    const later = first + 7.5 * MINUTE;
    const ticks = [first, later].map((at) => activationTick(fx.node.repo.config, at));
    const from = (await logged(fx)).length;

    await embargoes.create({ id: ID, release_at: isoSeconds(first), members: MEMBERS });
    for (const v of MEMBERS) {
      const fix = await fx.release(
        v,
        { product: `${v}-lib`, version: '1.0.1', applies_to: '<1.0.1' },
        [await fx.artifact(`${v}-lib.sh`, `echo ${v}\n`, 'any', v)],
        first,
      );
      await fx.node.repo.stageVendorMetadata(v, fix, { embargo: ID });
    }
    await embargoes.move(ID, { release_at: isoSeconds(later) });
    // A non-member ships at the same tick: its schedule is public, as any release's is.
    await fx.stage(
      'quill',
      { product: 'quill-lib', version: '2.0.0' },
      [await fx.artifact('quill-lib.sh', 'echo quill\n', 'any', 'quill')],
      later,
    );

    const before = (await logged(fx)).slice(from);
    const secret = before.filter((l) => !(l.type === 'release.scheduled' && l.vendor === 'quill'));
    expect(secret.length).toBeGreaterThan(0);
    for (const leaf of secret) {
      const text = JSON.stringify(leaf);
      for (const v of MEMBERS) expect(text, `${leaf.type} names ${v}`).not.toContain(`"${v}"`);
      expect(text).not.toContain(ID);
      for (const k of ticks)
        expect(text, `${leaf.type} gives the tick`).not.toMatch(new RegExp(`:${k}[,}]`));
    }

    fx.clock.set(later);
    await fx.node.repo.refresh();
    await fx.node.evidence.activations();
    const leaves = (await logged(fx)).map((leaf, index) => ({ index, leaf }));
    const report = evaluateFairness({ leaves, timestampKeys: new Map(), now: later + MINUTE });
    expect(report.findings.filter((f) => f.kind.startsWith('embargo'))).toEqual([]);
    const [embargo] = report.embargoes;
    expect(embargo).toMatchObject({ id: ID, tick: ticks[1] });
    for (const v of MEMBERS)
      expect(embargo!.members[v]).toMatchObject({
        status: 'shipped',
        release: `${v}/2`,
        activationTick: ticks[1],
      });
    // Each member's release, opened from its sealed leaf, is checked against what went live.
    const release = (v: string) => report.releases.find((r) => r.id === `${v}/2`);
    for (const v of MEMBERS) expect(release(v)?.scheduledTick).toBe(ticks[1]);

    // A reveal opening a schedule nobody committed (here: another tick) is proof against the operator.
    const forged = leaves.map(({ index, leaf }) =>
      leaf.type === 'embargo.revealed' && leaf.v === 2
        ? {
            index,
            leaf: {
              ...leaf,
              schedules: leaf.schedules.map((s) => ({ ...s, activation_tick: ticks[1]! + 1 })),
            },
          }
        : { index, leaf },
    );
    expect(openSealedSchedules(forged).findings.map((f) => f.kind)).toEqual([
      'embargo-commitment-mismatch',
      'embargo-commitment-mismatch',
    ]);
  });
});
