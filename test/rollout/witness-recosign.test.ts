import { afterEach, describe, expect, it } from 'vitest';
import { parseVerifierKey } from '../../src/log/note.js';
import { createFixture } from '../helpers/repo.js';
import { startWitness } from '../helpers/witness.js';
import { until } from '../helpers/until.js';

// A staged release's salt is drawn from the witnesses' cosignatures on one checkpoint. A witness that
// cosigned a checkpoint answers the same checkpoint asked again with the same line, so a log operator
// who asks again and again gets no other draw.

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe('a witness asked again for a checkpoint it cosigned', () => {
  it('answers with the same cosignature, whenever it is asked', async () => {
    const fx = await createFixture();
    cleanup.push(() => fx.close());
    const w = await startWitness(fx.keysDir, fx.clock, {
      logs: [{ url: 'unused', verifier: parseVerifierKey(fx.node.logVerifierKey) }],
    });
    cleanup.push(() => w.close());
    const node = await fx.openNode({ witnesses: [w.url] });
    const cosigned = await until('a checkpoint cosigned', async () => {
      const note = await (await node.app.request('/log/checkpoint')).text();
      return note.includes('\u2014 witness/') ? note : undefined;
    });
    const size = Number(cosigned.split('\n')[1]);
    const line = cosigned.split('\n').find((l) => l.startsWith('\u2014 witness/'))! + '\n';
    // The log-signed note alone, as the log asks for it: old size = the size the witness holds.
    const logSigned = (await node.log.checkpoint(size))!
      .split('\n')
      .filter((l) => !l.startsWith('\u2014 witness/'))
      .join('\n');
    for (const later of [10_000, 3_600_000]) {
      fx.clock.advance(later);
      const again = await w.witness.checkpoints.add(`old ${size}\n\n${logSigned}`);
      expect(again).toEqual({ kind: 'cosigned', lines: line });
    }
  });
});
