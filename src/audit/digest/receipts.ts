import { hash } from 'node:crypto';
import { type SignedObservation, verifyObservation } from '../../common/observation.js';
import type { SignedEnrollment } from '../../common/enrollment.js';
import type { LeafOf } from '../../log/leaves.js';

/**
 * One agent's run of polls as its valid signed receipts tell it (the same run is signed again as it
 * grows): the longest account, with everything any version of it reported. The document is named
 * by digest; whether it is a statement of the operator's is decided when the verdict is made.
 */
export interface Run {
  agent: string;
  group: string;
  document: string;
  firstAt: number;
  lastAt: number;
  polls: number;
  via: string;
  pushed: boolean | undefined;
  artifactFailures: string[];
  /** Paths that did not answer this agent before the one that did (`via`s). */
  pathFailures: string[];
  /** Log checkpoints (signed notes) the agent was served during the run, as it signed them. */
  checkpoints: string[];
  /** Where the auditor got it: 'log', a witness URL or a receipts file. */
  source: string;
  rollout?: NonNullable<SignedObservation['observation']['rollout']>;
}

/**
 * What the log's receipt batches come to, folded leaf by leaf: a receipt signed again, or logged
 * twice, changes nothing here, so the digest grows with the distinct runs agents reported, never
 * with how often they reported them.
 */
export interface ReceiptDigest {
  /** The timestamp documents the batches carried (their JSON texts), by digest, and the first leaf of each. */
  documents: Map<string, { text: string; leaf: number }>;
  runs: Map<string, Run>;
  /**
   * Runs added or changed since the digest was read back from a saved state: all a save must write
   * beside the runs saved before (src/audit/log-state.ts). Undefined: not tracked (a digest folded
   * from the first leaf is saved whole, or never).
   */
  changed?: Set<string>;
  /** Receipts whose agent signature did not verify, by `signedKey`, in log order (intake refuses them: few). */
  invalid: Set<string>;
  /** Receipts from before agents signed them: counted, never evidence. */
  legacy: number;
  /** Owners' certificates the batches carried, the first time each was logged. */
  enrollments: Array<{ leaf: number; certificate: SignedEnrollment }>;
}

export const emptyReceiptDigest = (): ReceiptDigest => ({
  documents: new Map(),
  runs: new Map(),
  invalid: new Set(),
  legacy: 0,
  enrollments: [],
});

/**
 * What a signature is checked, and a signed thing known, under: the signature and (a hash of) the
 * words it signs. Anyone can copy a signature from the public log onto words of their own; under
 * the signature alone, the copy would pass for the original.
 */
export const signedKey = (sig: string, words: unknown): string =>
  `${sig}\n${hash('sha256', JSON.stringify(words), 'base64')}`;

/** A certificate's identity (a copied signature makes another). */
export const certificateKey = (c: SignedEnrollment): string => signedKey(c.sig, c.enrollment);

/** The key a run is merged under: the same agent, document, start and path. */
export const runId = (o: SignedObservation['observation']): string =>
  `${o.agent}/${o.document}/${o.first_at}/${o.via}`;

/** A valid signed observation as a run (the source says where it was read). */
export function runOf(signed: SignedObservation, source: string): Run {
  const o = signed.observation;
  return {
    agent: o.agent,
    group: o.group,
    document: o.document,
    firstAt: Date.parse(o.first_at),
    lastAt: Date.parse(o.last_at),
    polls: o.polls,
    via: o.via,
    pushed: o.pushed,
    artifactFailures: (o.artifact_failures ?? []).map((f) => f.target),
    pathFailures: (o.path_failures ?? []).map((f) => f.via),
    checkpoints: o.checkpoint ? [Buffer.from(o.checkpoint, 'base64').toString('utf8')] : [],
    source,
    ...(o.rollout ? { rollout: o.rollout } : {}),
  };
}

/**
 * Adds one version of a run: the longest account wins, polls are the most any version counted, and
 * failures and checkpoints are everything any version reported. Adding the same version again
 * changes nothing, so a receipt logged twice (or read from the log and an export) counts once.
 */
export function mergeRun(runs: Map<string, Run>, id: string, run: Run): void {
  const earlier = runs.get(id);
  if (!earlier) {
    runs.set(id, run);
    return;
  }
  const longest = run.lastAt > earlier.lastAt ? run : earlier;
  // Added to a run after its last poll (a staged release weighed), so a version signed again with
  // the same last time may be the only one that carries it.
  const rollout = longest.rollout ?? earlier.rollout ?? run.rollout;
  runs.set(id, {
    ...longest,
    polls: Math.max(run.polls, earlier.polls),
    artifactFailures: union(earlier.artifactFailures, run.artifactFailures),
    pathFailures: union(earlier.pathFailures, run.pathFailures),
    checkpoints: union(earlier.checkpoints, run.checkpoints),
    ...(rollout ? { rollout } : {}),
  });
}

const union = (a: readonly string[], b: readonly string[]): string[] =>
  b.every((x) => a.includes(x)) ? [...a] : [...new Set([...a, ...b])];

/**
 * Folds one receipt batch in. A receipt counts only with a valid agent signature and a document the
 * log carried before it (or in the same batch). A receipt already met in this fold (the same
 * signature on the same words) is skipped; a copy of a signature on other words is checked on its
 * own, fails, and changes nothing else. So every receipt is judged alone, as a full audit and an
 * incremental one both judge it.
 */
export function foldReceiptBatch(
  digest: ReceiptDigest,
  index: number,
  leaf: LeafOf<'receipts.batch'>,
  fold: { met: Set<string>; enrollments: Set<string> },
): void {
  if (leaf.v === 1) {
    digest.legacy += leaf.observations.length;
    return;
  }
  for (const [digestHex, text] of Object.entries(leaf.documents))
    if (!digest.documents.has(digestHex)) digest.documents.set(digestHex, { text, leaf: index });
  for (const certificate of leaf.enrollments ?? []) {
    const key = certificateKey(certificate);
    if (fold.enrollments.has(key)) continue;
    fold.enrollments.add(key);
    digest.enrollments.push({ leaf: index, certificate });
  }
  for (const signed of leaf.receipts) {
    const key = signedKey(signed.sig, signed.observation);
    if (fold.met.has(key)) continue;
    fold.met.add(key);
    if (!verifyObservation(signed)) {
      digest.invalid.add(key);
      continue;
    }
    if (!digest.documents.has(signed.observation.document)) continue;
    const id = runId(signed.observation);
    mergeRun(digest.runs, id, runOf(signed, 'log'));
    digest.changed?.add(id);
  }
}
