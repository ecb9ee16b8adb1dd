import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateFairness } from '../../src/audit/fairness.js';
import { ed25519PublicKey } from '../../src/common/ed25519.js';
import { signObservation } from '../../src/common/observation.js';
import { canonicalBytes } from '../../src/common/canonical.js';
import { connect } from '../../src/db/connect.js';
import { signCheckpoint } from '../../src/log/checkpoint.js';
import { type Leaf, leafBytes, parseLeaf } from '../../src/log/leaves.js';
import { Sequencer } from '../../src/log/sequencer.js';
import { LogStore } from '../../src/log/store.js';
import { MemoryTree } from '../../src/log/tree.js';
import { generateKeyPair, tufKey } from '../../src/tuf/keys.js';
import { envelopeBytes, metaFile, signEnvelope } from '../../src/tuf/metadata.js';
import { buildTimestamp } from '../../src/tuf/roles.js';
import { releaseActivatedLeaf, scheduledReleaseLeaf } from '../lib/synthetic-leaves.js';

export interface LogResult {
  appendsPerSecond: number;
  inclusionProofsPerSecond: number;
  audit: {
    leaves: number;
    receipts: number;
    seconds: number;
    /** Where the time went: the tree from every leaf, parsing every leaf, the evaluation. */
    phases: { treeSeconds: number; parseSeconds: number; evaluateSeconds: number };
    /** The process's resident memory once the audit is done. */
    rssMiB: number;
    verdict: string;
  };
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;

/** Appends through the sequencer into SQLite, then inclusion proofs read from stored nodes. */
async function appendsAndProofs(
  appends: number,
  proofs: number,
): Promise<{ appendsPerSecond: number; inclusionProofsPerSecond: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-log-'));
  const db = await connect({ url: join(dir, 'log.sqlite') });
  const key = generateKeyPair();
  const log = new LogStore(db, (size, root) =>
    signCheckpoint({ origin: 'bench/log', size, rootHash: root }, 'bench/log', key.secretKey),
  );
  const sequencer = new Sequencer(log, Date.now);
  try {
    const data = (i: number) =>
      Buffer.from(JSON.stringify({ type: 'bench', i, pad: 'x'.repeat(100) }));
    let t0 = performance.now();
    // As the server sees them: many concurrent appends, which the sequencer batches.
    for (let i = 0; i < appends; i += 10_000)
      await sequencer.appendAll(
        Array.from({ length: Math.min(10_000, appends - i) }, (_, j) => ({
          dedupe: `b${i + j}`,
          data: data(i + j),
        })),
      );
    const appendsPerSecond = appends / seconds(t0);
    const { size } = await log.head();
    t0 = performance.now();
    for (let i = 0; i < proofs; i++)
      await log.inclusionProof(Math.floor(Math.random() * size), size);
    return { appendsPerSecond, inclusionProofsPerSecond: proofs / seconds(t0) };
  } finally {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The auditor's work on a 1,000,000-leaf log with 100,000 receipts: recompute the tree from every
 * leaf, parse every leaf, verify every distinct receipt document, evaluate. (Fetching the leaves
 * over HTTP is extra: 1,000 requests of 1,000 entries.)
 */
export async function auditBig(
  leafCount: number,
  receiptCount: number,
): Promise<LogResult['audit']> {
  const timestampKey = generateKeyPair();
  const epoch = Math.floor(Date.now() / 1000) * 1000 - 3 * 86_400_000;
  const tickMs = 1000;
  const leaves: Buffer[] = [];
  const push = (leaf: Leaf) => leaves.push(leafBytes(leaf));
  push({
    type: 'repository.created',
    v: 1,
    epoch_ms: epoch,
    tick_ms: tickMs,
    freshness_ms: 300_000,
    root_sha256: '0'.repeat(64),
  });
  push(scheduledReleaseLeaf(epoch));
  push(releaseActivatedLeaf());
  // Receipts: one document per tick, observed by many clients in 8 groups.
  const docs = new Map<number, string>();
  const doc = (k: number) => {
    let d = docs.get(k);
    if (!d) {
      d = envelopeBytes(
        signEnvelope(
          buildTimestamp(
            k,
            epoch + (k - 1) * tickMs + 300_000,
            metaFile(k >= 3601 ? 2 : 1, Buffer.from('s')),
          ),
          [timestampKey],
        ),
      ).toString();
      docs.set(k, d);
    }
    return d;
  };
  // Agent-signed observations, as intake logs them: 1,000 agents, every signature checked by the audit.
  const agents = Array.from({ length: 1000 }, () => {
    const seed = randomBytes(32);
    return { seed, key: ed25519PublicKey(seed).toString('hex') };
  });
  const perBatch = 100;
  for (let r = 0; r < receiptCount; r += perBatch) {
    const documents: Record<string, string> = {};
    const receipts = [];
    for (let j = 0; j < perBatch; j++) {
      const k = 3500 + ((r + j) % 200);
      const text = doc(k);
      const digest = createHash('sha256')
        .update(canonicalBytes(JSON.parse(text)))
        .digest('hex');
      documents[digest] = text;
      const agent = agents[(r + j) % agents.length]!;
      const at = new Date(epoch + (k - 1) * tickMs + 40).toISOString();
      receipts.push(
        signObservation(
          {
            v: 1,
            agent: agent.key,
            group: `g${(r + j) % 8}`,
            document: digest,
            first_at: at,
            last_at: at,
            polls: 1,
            via: '/g/x',
            lag_ms: 40,
          },
          agent.seed,
        ),
      );
    }
    push({ type: 'receipts.batch', v: 2, documents, receipts });
  }
  while (leaves.length < leafCount) {
    const k = leaves.length;
    push({
      type: 'delivery.rollup',
      v: 1,
      node: 'n1',
      from_tick: k,
      to_tick: k + 1,
      groups: {
        [`g${k % 8}`]: {
          polls: 5,
          versions: { '2': { polls: 5, first_tick: k, last_tick: k + 1 } },
        },
      },
    });
  }
  const keys = new Map([
    [
      (await import('../../src/tuf/keys.js')).keyIdOf(tufKey(timestampKey.publicKey)),
      tufKey(timestampKey.publicKey),
    ],
  ]);

  const t0 = performance.now();
  const tree = new MemoryTree();
  tree.append(leaves);
  tree.root();
  const t1 = performance.now();
  const parsed = leaves.map((b, index) => ({ index, leaf: parseLeaf(b) }));
  const t2 = performance.now();
  const report = evaluateFairness({ leaves: parsed, timestampKeys: keys, now: Date.now() });
  const t3 = performance.now();
  return {
    leaves: leaves.length,
    receipts: receiptCount,
    seconds: seconds(t0),
    phases: {
      treeSeconds: (t1 - t0) / 1000,
      parseSeconds: (t2 - t1) / 1000,
      evaluateSeconds: (t3 - t2) / 1000,
    },
    rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    verdict: report.verdict,
  };
}

export async function logBenchmark(): Promise<LogResult> {
  const { appendsPerSecond, inclusionProofsPerSecond } = await appendsAndProofs(100_000, 20_000);
  return { appendsPerSecond, inclusionProofsPerSecond, audit: await auditBig(1_000_000, 100_000) };
}
