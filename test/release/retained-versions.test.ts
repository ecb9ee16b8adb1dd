import { afterEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/tuf/metadata.js';
import { type Fixture, MINUTE, createFixture, listen } from '../helpers/repo.js';

let fx: Fixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

/** Bytes of the vendor's versions the node holds in memory, and how many versions hold any. */
function held(f: Fixture, vendor: string): { bytes: number; versions: number } {
  const list = f.node.repo.view.state.vendors.get(vendor) ?? [];
  const holding = list.filter((v) => v.bytes !== undefined);
  return { bytes: holding.reduce((n, v) => n + v.bytes!.length, 0), versions: holding.length };
}

describe("a vendor's old versions", () => {
  it('are not held in memory once replaced, and are still served by number and logged', async () => {
    fx = await createFixture();
    await fx.addVendor('acme');
    const releases = 12;
    for (let i = 0; i < releases; i++) {
      const artifact = await fx.artifact(`agent-${i}.sh`, `fix ${i}\n`);
      await fx.stage(
        'acme',
        { version: `2.${i + 5}.0`, applies_to: `<2.${i + 5}.0` },
        [artifact],
        fx.clock.now() + MINUTE,
      );
      fx.clock.advance(2 * MINUTE);
      await fx.node.repo.refresh();
      await fx.node.evidence.activations();
    }
    const list = fx.node.repo.view.state.vendors.get('acme')!;
    expect(list).toHaveLength(releases + 1);
    // Only the version in effect holds its bytes: the other twelve were let go.
    const now = held(fx, 'acme');
    expect(now.versions).toBe(1);
    expect(now.bytes).toBe(list.at(-1)!.length);

    // An old version is still served by number, byte for byte.
    const server = await listen(fx.node.app);
    try {
      const old = list[3]!;
      const response = await fetch(`${server.url}/metadata/${old.version}.acme.json`);
      expect(response.status).toBe(200);
      expect(sha256Hex(Buffer.from(await response.arrayBuffer()))).toBe(old.sha256);
    } finally {
      await server.close();
    }

    // A node started later logs every activation again (idempotently) from bytes it reads back.
    const second = await fx.openNode();
    await second.repo.refresh();
    await second.evidence.activations();
    await second.sequencer.idle();
    const { size } = await second.log.head();
    const activated = (await second.log.entriesPage(0, size, 1e9))
      .map((e) => JSON.parse(e.data) as { type: string; metadata_version?: number })
      .filter((l) => l.type === 'release.activated');
    expect(activated.map((l) => l.metadata_version)).toEqual(
      Array.from({ length: releases }, (_, i) => i + 2),
    );
  }, 60_000);
});
