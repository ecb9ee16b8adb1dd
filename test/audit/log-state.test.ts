import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLogState, readStoredLeaves, writeLogState } from '../../src/audit/log-state.js';

const leaves = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => JSON.stringify({ type: 'x', i: from + i }));
const next = (size: number) => ({
  checkpoint: `note ${size}`,
  size,
  edge: [],
  roots: {},
  invalid_signatures: [],
});

describe("the auditor's saved leaves", () => {
  it('takes a run of 300,000 new leaves, then a few more, and gives them all back in order', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fp-log-state-'));
    writeLogState(dir, next(300_000), leaves(0, 300_000), 0, undefined);
    const first = readLogState(dir)!;
    expect(readStoredLeaves(dir, first)).toHaveLength(300_000);
    writeLogState(dir, next(300_010), leaves(300_000, 10), 300_000, first);
    const second = readLogState(dir)!;
    const all = readStoredLeaves(dir, second) as Array<{ i: number }>;
    expect(all.map((l) => l.i)).toEqual(Array.from({ length: 300_010 }, (_, i) => i));
    // Only files the state names are left.
    expect(
      readdirSync(dir)
        .filter((f) => f.startsWith('leaves-'))
        .sort(),
    ).toEqual(second.segments.map((s) => s.file).sort());
  });
});
