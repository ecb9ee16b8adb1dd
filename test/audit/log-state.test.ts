import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  digestOf,
  emptyLogDigest,
  foldLeaf,
  foldMemo,
  savedDigest,
} from '../../src/audit/digest/log-digest.js';
import { readLogState, readStoredDigest, writeLogState } from '../../src/audit/log-state.js';
import { ed25519PublicKey } from '../../src/common/ed25519.js';
import { signObservation } from '../../src/common/observation.js';
import type { Leaf } from '../../src/log/leaves.js';

const seed = randomBytes(32);
const agent = ed25519PublicKey(seed).toString('hex');
const at = (s: number) => new Date(Date.UTC(2026, 11, 6, 12, 0, s)).toISOString();

/** One agent's run about document `d`, signed again as it grew to `polls` polls. */
const receipt = (d: string, polls: number) =>
  signObservation(
    {
      v: 1,
      agent,
      group: 'eu-west',
      document: d,
      first_at: at(0),
      last_at: at(polls),
      polls,
      via: '/g/eu-west',
      lag_ms: 0,
    },
    seed,
  );

/**
 * A log's leaves: its changes from tick 10, the groups, then per tick `k` a node's roll-up (which
 * snapshot it served since when, snapshot 2 from tick 1,000, a push at k = 50) and every tenth tick
 * a receipt batch that repeats the run's earlier versions beside its newest.
 */
function leaves(count: number): Leaf[] {
  const out: Leaf[] = [
    { type: 'changes.logged', v: 1, from_tick: 10, snapshot_version: 1, snapshot_period_ticks: 60 },
    { type: 'groups.declared', v: 1, groups: ['eu-west', 'us-east'] },
  ];
  const d = 'd'.repeat(64);
  for (let k = 1; out.length < count; k++) {
    const version = k < 1_000 ? '1' : '2';
    out.push({
      type: 'delivery.rollup',
      v: 1,
      node: `node-${k % 3}`,
      from_tick: k,
      to_tick: k + 1,
      groups: {
        'eu-west': {
          polls: k,
          versions: { [version]: { polls: k, first_tick: k, last_tick: k + 1 } },
          ...(k === 50 ? { notifications: { '50': { connections: 7, fanout_us: 900 } } } : {}),
        },
      },
    });
    if (k % 10 === 0)
      out.push({
        type: 'receipts.batch',
        v: 2,
        documents: { [d]: '{}' },
        receipts: [receipt(d, 1), receipt(d, Math.ceil(k / 10))],
      });
  }
  return out.slice(0, count);
}

const indexed = (list: readonly Leaf[]) => list.map((leaf, index) => ({ index, leaf }));

describe("the auditor's digest of the log", () => {
  it('folded in two runs is the digest of the whole log folded at once', () => {
    const all = leaves(2_000);
    const whole = digestOf(indexed(all));
    const split = emptyLogDigest();
    let memo = foldMemo(split);
    for (const leaf of all.slice(0, 1_234)) foldLeaf(split, leaf, memo);
    memo = foldMemo(split); // a new run remembers nothing but the digest
    for (const leaf of all.slice(1_234)) foldLeaf(split, leaf, memo);
    expect(savedDigest(split)).toEqual(savedDigest(whole));
    // Roll-ups and receipts are folded: only the two other leaves are kept whole, one run remains.
    expect(whole.leaves.map((l) => l.leaf.type)).toEqual(['changes.logged', 'groups.declared']);
    expect(whole.receipts.runs.size).toBe(1);
    const newest = Math.max(
      ...all.flatMap((l) =>
        l.type === 'receipts.batch' && l.v === 2 ? l.receipts.map((r) => r.observation.polls) : [],
      ),
    );
    expect([...whole.receipts.runs.values()][0]!.polls).toBe(newest);
  });

  it('grows with what the verdict needs, not with the log: ten times the leaves, the same size', () => {
    const size = (n: number) => JSON.stringify(savedDigest(digestOf(indexed(leaves(n))))).length;
    expect(size(30_000)).toBeLessThan(size(3_000) * 1.2);
  });

  it('is saved and read back whole, and only the files the state names are left', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fp-log-state-'));
    const first = digestOf(indexed(leaves(500)));
    writeLogState(dir, { checkpoint: 'note 500', edge: [], roots: {} }, first);
    const second = digestOf(indexed(leaves(900)));
    writeLogState(dir, { checkpoint: 'note 900', edge: [], roots: {} }, second);
    const state = readLogState(dir)!;
    expect(state.size).toBe(900);
    const back = readStoredDigest(dir, state)!;
    expect(savedDigest(back)).toEqual(savedDigest(second));
    expect([...back.receipts.runs]).toEqual([...second.receipts.runs]);
    expect(readdirSync(dir).sort()).toEqual([
      'digest-900.json',
      'log-state.json',
      'runs-0-900.json',
    ]);
  });

  it('a run writes only the runs it added or changed, and the files are merged before they pass twice the runs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fp-log-runs-'));
    // Every batch a new run: 100 agents' runs about a new document (as when agents report each poll).
    const batch = (slot: number): Leaf => {
      const d = slot.toString(16).padStart(64, '0');
      return {
        type: 'receipts.batch',
        v: 2,
        documents: { [d]: '{}' },
        receipts: Array.from({ length: 100 }, (_, j) => {
          const s = Buffer.alloc(32, j + 1);
          return signObservation(
            {
              v: 1,
              agent: ed25519PublicKey(s).toString('hex'),
              group: 'eu-west',
              document: d,
              first_at: at(0),
              last_at: at(slot),
              polls: 1,
              via: '/g/eu-west',
              lag_ms: 0,
            },
            s,
          );
        }),
      };
    };
    const note = (size: number) => ({ checkpoint: `note ${size}`, edge: [], roots: {} });
    const all: Leaf[] = [batch(0), batch(1)];
    writeLogState(dir, note(2), digestOf(indexed(all)));
    for (let slot = 2; slot < 6; slot++) {
      const kept = readLogState(dir)!;
      const digest = readStoredDigest(dir, kept)!;
      const leaf = batch(slot);
      all.push(leaf);
      foldLeaf(digest, leaf, foldMemo(digest));
      writeLogState(dir, note(digest.size), digest, kept);
      const state = readLogState(dir)!;
      // The new file holds the 100 new runs only; the digest read back is the whole log's.
      expect(state.runs.at(-1)).toEqual({ file: `runs-${slot}-${slot + 1}.json`, count: 100 });
      const back = readStoredDigest(dir, state)!;
      expect([...back.receipts.runs].sort()).toEqual(
        [...digestOf(indexed(all)).receipts.runs].sort(),
      );
    }
    expect(readLogState(dir)!.runs.map((r) => r.count)).toEqual([200, 100, 100, 100, 100]);

    // One run signed again in each of 40 more runs: a file each, until the files are merged.
    const d = 'e'.repeat(64);
    for (let polls = 1; polls <= 40; polls++) {
      const kept = readLogState(dir)!;
      const digest = readStoredDigest(dir, kept)!;
      foldLeaf(
        digest,
        { type: 'receipts.batch', v: 2, documents: { [d]: '{}' }, receipts: [receipt(d, polls)] },
        foldMemo(digest),
      );
      writeLogState(dir, note(digest.size), digest, kept);
      expect(readLogState(dir)!.runs.length).toBeLessThanOrEqual(32);
    }
    const merged = readLogState(dir)!;
    expect(merged.runs.reduce((n, r) => n + r.count, 0)).toBeLessThan(600 + 32);
    expect(readdirSync(dir).filter((f) => f.startsWith('runs-')).length).toBe(merged.runs.length);
    const back = readStoredDigest(dir, merged)!;
    expect(back.receipts.runs.size).toBe(601);
    expect([...back.receipts.runs.values()].find((r) => r.document === d)?.polls).toBe(40);
  });
});
