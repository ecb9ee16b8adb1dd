import { z } from 'zod';
import { signedEnrollmentSchema } from '../../common/enrollment.js';
import { type Leaf, parseLeaf } from '../../log/leaves.js';
import {
  type ReceiptDigest,
  type Run,
  certificateKey,
  emptyReceiptDigest,
  foldReceiptBatch,
} from './receipts.js';
import { type RollupDigest, changesLogged, emptyRollupDigest, foldRollup } from './rollups.js';

// The verdict is a function of the log, but not of every leaf one by one: roll-ups come to sums and
// extremes (rollups.ts), receipts to the runs agents reported (receipts.ts), and every other leaf (a
// schedule, an activation, a key, a declaration: few, and each read on its own) is kept whole. The
// auditor keeps this digest between runs, so a run after N new entries folds N leaves and evaluates
// a digest as large as the nodes, groups, releases and agents' runs are many, not the log.

export interface LogDigest {
  /** How many leaves were folded (the log's size when the digest is whole). */
  size: number;
  /** Every leaf that is neither a roll-up nor a receipt batch, with its index, in log order. */
  leaves: Array<{ index: number; leaf: Leaf }>;
  rollups: RollupDigest;
  receipts: ReceiptDigest;
}

export const emptyLogDigest = (): LogDigest => ({
  size: 0,
  leaves: [],
  rollups: emptyRollupDigest(),
  receipts: emptyReceiptDigest(),
});

/**
 * What one fold remembers while it runs (never saved): the receipts it met, each checked once, and
 * the certificates the digest holds (both by `signedKey`). A reader that folds a log once, leaf by leaf, keeps
 * one for good (the dashboard); the auditor starts one per run.
 */
export interface FoldMemo {
  met: Set<string>;
  enrollments: Set<string>;
}

export function foldMemo(digest: LogDigest): FoldMemo {
  return {
    met: new Set(),
    enrollments: new Set(digest.receipts.enrollments.map((e) => certificateKey(e.certificate))),
  };
}

/** Folds leaf `digest.size` into the digest (leaves come in log order, each once). */
export function foldLeaf(digest: LogDigest, leaf: Leaf, memo: FoldMemo): void {
  const index = digest.size++;
  if (leaf.type === 'delivery.rollup') foldRollup(digest.rollups, index, leaf);
  else if (leaf.type === 'receipts.batch') foldReceiptBatch(digest.receipts, index, leaf, memo);
  else {
    if (leaf.type === 'changes.logged') changesLogged(digest.rollups, leaf.from_tick);
    digest.leaves.push({ index, leaf });
  }
}

/** The digest of these leaves, from the first (a test's, or a reader's that keeps no state). */
export function digestOf(leaves: ReadonlyArray<{ index: number; leaf: Leaf }>): LogDigest {
  const digest = emptyLogDigest();
  const memo = foldMemo(digest);
  for (const { index, leaf } of leaves) {
    if (index !== digest.size) digest.size = index;
    foldLeaf(digest, leaf, memo);
  }
  return digest;
}

// The digest as the auditor's state keeps it: JSON, every leaf kept whole as its text (checked
// against the leaf schema again when read back), maps as arrays of entries, and the runs (the one
// part that grows with the receipts) apart, so that a save appends the runs that changed.

const count = z.number().int().nonnegative();
const tick = z.number().int();
const strings = z.array(z.string());
const runSchema = z.strictObject({
  agent: z.string(),
  group: z.string(),
  document: z.string(),
  firstAt: z.number(),
  lastAt: z.number(),
  polls: count,
  via: z.string(),
  pushed: z.boolean().optional(),
  artifactFailures: strings,
  pathFailures: strings,
  checkpoints: strings,
  source: z.string(),
  rollout: z
    .strictObject({
      release: z.string(),
      stage: z.number().int(),
      percent_bp: count,
      eligible: z.boolean(),
      salt_checkpoint: count.optional(),
      outcome: z.enum(['installed', 'failed']).optional(),
    })
    .optional(),
});

export const savedDigestSchema = z.strictObject({
  size: count,
  leaves: z.array(z.tuple([count, z.string()])),
  rollups: z.strictObject({
    polls: z.array(z.tuple([z.string(), count])),
    notifications: z.array(
      z.tuple([z.string(), tick, count, count, count]), // group, tick, connections, fan-out µs, leaf
    ),
    lastServed: z.array(z.tuple([z.string(), z.string(), count, tick, count])), // node, group, version, tick, leaf
    firstServed: z.array(z.tuple([count, tick, count])), // version, tick, leaf
    changesFrom: tick.optional(),
  }),
  receipts: z.strictObject({
    documents: z.array(z.tuple([z.string(), z.string(), count])), // digest, text, leaf
    invalid: strings,
    legacy: count,
    enrollments: z.array(z.tuple([count, signedEnrollmentSchema])),
  }),
});
export type SavedDigest = z.input<typeof savedDigestSchema>;

/** Runs as a state keeps them, in files of their own: `[id, run]`, a later file's run replacing an earlier one's. */
export const savedRunsSchema = z.array(z.tuple([z.string(), runSchema]));
export type SavedRuns = z.input<typeof savedRunsSchema>;

/** The digest's runs, or only those the `changed` set names. */
export function savedRuns(digest: LogDigest, only?: ReadonlySet<string>): SavedRuns {
  const { runs } = digest.receipts;
  if (!only) return [...runs];
  return [...only].flatMap((id) => {
    const run = runs.get(id);
    return run ? [[id, run] as [string, Run]] : [];
  });
}

export function savedDigest(digest: LogDigest): SavedDigest {
  const { rollups, receipts } = digest;
  return {
    size: digest.size,
    leaves: digest.leaves.map(({ index, leaf }) => [index, JSON.stringify(leaf)]),
    rollups: {
      polls: [...rollups.polls],
      notifications: [...rollups.notifications.values()].map((n) => [
        n.group,
        n.tick,
        n.connections,
        n.fanoutUs,
        n.leaf,
      ]),
      lastServed: [...rollups.lastServed.values()].map((s) => [
        s.node,
        s.group,
        s.version,
        s.lastTick,
        s.leaf,
      ]),
      firstServed: [...rollups.firstServed].map(([v, f]) => [v, f.tick, f.leaf]),
      ...(rollups.changesFrom !== undefined ? { changesFrom: rollups.changesFrom } : {}),
    },
    receipts: {
      documents: [...receipts.documents].map(([d, doc]) => [d, doc.text, doc.leaf]),
      invalid: [...receipts.invalid],
      legacy: receipts.legacy,
      enrollments: receipts.enrollments.map((e) => [e.leaf, e.certificate]),
    },
  };
}

/**
 * The digest a state saved, with its runs from the files that hold them, in order (throws if it is
 * not one: the caller then reads the log whole). Runs added or changed from here on are tracked, so
 * the next save writes only those.
 */
export function restoredDigest(saved: unknown, runFiles: readonly unknown[]): LogDigest {
  const s = savedDigestSchema.parse(saved);
  const rollups = emptyRollupDigest();
  for (const [group, polls] of s.rollups.polls) rollups.polls.set(group, polls);
  for (const [group, at, connections, fanoutUs, leaf] of s.rollups.notifications)
    rollups.notifications.set(`${group}\n${at}`, { group, tick: at, connections, fanoutUs, leaf });
  for (const [node, group, version, lastTick, leaf] of s.rollups.lastServed)
    rollups.lastServed.set(`${node}\n${group}\n${version}`, {
      node,
      group,
      version,
      lastTick,
      leaf,
    });
  for (const [version, at, leaf] of s.rollups.firstServed)
    rollups.firstServed.set(version, { tick: at, leaf });
  rollups.changesFrom = s.rollups.changesFrom;
  const receipts = emptyReceiptDigest();
  for (const [d, text, leaf] of s.receipts.documents) receipts.documents.set(d, { text, leaf });
  for (const file of runFiles)
    for (const [id, { rollout, ...run }] of savedRunsSchema.parse(file))
      receipts.runs.set(id, { ...run, pushed: run.pushed, ...(rollout ? { rollout } : {}) });
  receipts.changed = new Set();
  for (const sig of s.receipts.invalid) receipts.invalid.add(sig);
  receipts.legacy = s.receipts.legacy;
  receipts.enrollments = s.receipts.enrollments.map(([leaf, certificate]) => ({
    leaf,
    certificate,
  }));
  return {
    size: s.size,
    leaves: s.leaves.map(([index, text]) => ({
      index,
      leaf: parseLeaf(Buffer.from(text, 'utf8')),
    })),
    rollups,
    receipts,
  };
}
