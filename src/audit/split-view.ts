import { openCheckpoint } from '../log/checkpoint.js';
import type { Verifier } from '../log/note.js';
import type { Seen } from './observations.js';
import type { Finding } from './report.js';

/**
 * Split views: checkpoints agents were served (signed into their receipts) held against the log the
 * auditor verified. A checkpoint the log key signed whose root differs from the verified tree's root
 * at the same size means the operator signed two histories — proof, whoever carried it, since no
 * agent can forge the log key's signature. Which group saw it is the agents' testimony. A checkpoint
 * no log key signed, or one larger than the auditor's log (seen after the auditor's checkpoint), says
 * nothing here.
 */
export function splitViews(input: {
  seen: readonly Seen[];
  logKeys: readonly Verifier[];
  /** The verified tree's size, and its root at any size up to it. */
  logSize: number;
  rootAt: (size: number) => Uint8Array;
}): Finding[] {
  const findings = new Map<string, Finding>();
  for (const s of input.seen) {
    for (const note of s.checkpoints) {
      let size: number;
      let root: Buffer;
      try {
        ({ size, rootHash: root } = openCheckpoint(note, input.logKeys));
      } catch {
        continue;
      }
      if (size > input.logSize || root.equals(input.rootAt(size))) continue;
      const key = `${size}/${root.toString('hex')}`;
      const earlier = findings.get(key);
      if (earlier) {
        const groups = earlier.evidence.groups as string[];
        if (!groups.includes(s.group)) groups.push(s.group);
        continue;
      }
      findings.set(key, {
        kind: 'log-split-view',
        class: 'proof',
        unfair: true,
        group: s.group,
        message: `the log key signed a checkpoint of size ${size} for agents of group ${s.group} whose root differs from the log shown to this auditor at that size: two histories`,
        evidence: {
          checkpoint: note,
          verified_root: Buffer.from(input.rootAt(size)).toString('hex'),
          groups: [s.group],
          agent: s.agent,
          source: s.source,
        },
      });
    }
  }
  return [...findings.values()];
}
