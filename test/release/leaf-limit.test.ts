import { afterEach, describe, expect, it } from 'vitest';
import { MAX_LEAF_BYTES, MAX_LOGGED_METADATA_BYTES } from '../../src/log/limits.js';
import { parseLeaf } from '../../src/log/leaves.js';
import { canonicalBytes } from '../../src/common/canonical.js';
import { FairpatchError } from '../../src/errors.js';
import { type Fixture, createFixture, listen, MINUTE } from '../helpers/repo.js';

let fixture: Fixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

describe('the log leaf limit, end to end', () => {
  it('refuses at staging (413 PAYLOAD_TOO_LARGE) metadata whose activation leaf the log cannot take, under a larger upload limit', async () => {
    fixture = await createFixture();
    await fixture.addVendor('acme');
    const one = await fixture.artifact('patch.bin', 'x'.repeat(64));
    // 15,630 targets, as in the report: the canonical form passes 4 MiB, the upload limit is 16 MiB.
    const artifacts = Array.from({ length: 15_630 }, (_, i) => ({
      ...one,
      name: `patch-${String(i).padStart(6, '0')}-${'n'.repeat(40)}.bin`,
    }));
    const envelope = await fixture.release(
      'acme',
      { applies_to: '>=2.0.0 <2.4.1 || >=3.0.0-rc.1 <3.0.0' },
      artifacts,
      fixture.clock.now() + MINUTE,
    );
    expect(canonicalBytes(envelope).length).toBeGreaterThan(MAX_LOGGED_METADATA_BYTES);
    const body = JSON.stringify(envelope);
    const node = await fixture.openNode({ maxJsonBytes: 16 * 1024 * 1024 });
    const server = await listen(node.app);
    try {
      const response = await fetch(`${server.url}/api/v1/vendors/acme/metadata`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${fixture.vendors.get('acme')!.token}`,
        },
        body,
      });
      expect(response.status).toBe(413);
      expect((await response.json()) as unknown).toMatchObject({
        error: { code: 'PAYLOAD_TOO_LARGE' },
      });
    } finally {
      await server.close();
    }
    // Nothing was staged: the next version is still 2, and every leaf in the log reads back.
    expect((await node.store.latestVendorMetadata('acme'))?.signed.version).toBe(1);
    fixture.clock.advance(2 * MINUTE);
    await node.evidence.activations();
    const { size } = await node.log.head();
    for (const e of await node.log.entries(0, size))
      expect(() => parseLeaf(Buffer.from(e.data, 'utf8'))).not.toThrow();
  }, 60_000);

  it('never appends a leaf over MAX_LEAF_BYTES (the whole batch is refused, nothing half-written)', async () => {
    fixture = await createFixture();
    const { sequencer, log } = fixture.node;
    const before = (await log.head()).size;
    const big = Buffer.alloc(MAX_LEAF_BYTES + 1, 0x20);
    const error = await sequencer
      .appendAll([
        { dedupe: 'small', data: Buffer.from('{}') },
        { dedupe: 'big', data: big },
      ])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FairpatchError);
    expect((error as FairpatchError).code).toBe('PAYLOAD_TOO_LARGE');
    expect((await log.head()).size).toBe(before);
  });
});
