import { openCheckpoint } from '../log/checkpoint.js';
import type { Verifier } from '../log/note.js';
import type { Run } from './digest/receipts.js';
import type { ExternalEvidence, Seen } from './observations.js';
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

/**
 * Every tree size an agent's checkpoint names in the log's receipts and outside evidence, read
 * without checking anything (a superset of what splitViews asks roots for): the roots at those sizes
 * are read from the log's tiles before the evaluation, which is synchronous.
 */
export function checkpointSizes(
  runs: Iterable<Run>,
  external: readonly ExternalEvidence[],
): Set<number> {
  const sizes = new Set<number>();
  const add = (note: string): void => {
    const size = note.split('\n', 2)[1] ?? '';
    if (/^(0|[1-9]\d{0,15})$/.test(size) && Number.isSafeInteger(Number(size)))
      sizes.add(Number(size));
  };
  for (const run of runs) for (const note of run.checkpoints) add(note);
  for (const e of external)
    for (const receipt of e.receipts) {
      const note = (receipt as { observation?: { checkpoint?: unknown } } | null)?.observation
        ?.checkpoint;
      if (typeof note === 'string') add(Buffer.from(note, 'base64').toString('utf8'));
    }
  return sizes;
}
