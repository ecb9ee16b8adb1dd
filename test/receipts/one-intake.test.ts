import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// One receipt intake (src/receipts/intake.ts) for the node and every witness: the checks, the budgets
// and the order "every check before any write" live there once; a server brings only its ledger (what
// it logs, what it answers) and its trust in timestamps. Checked like a lint rule: the submit logic
// is not written a second time, and `POST /receipts` has one route.

const SRC = resolve(new URL('../../src', import.meta.url).pathname);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : name.endsWith('.ts') ? [path] : [];
  });
}

/** The files of src/ whose text matches `pattern`, relative to src/. */
function filesMatching(pattern: RegExp): string[] {
  return sources(SRC)
    .filter((file) => pattern.test(readFileSync(file, 'utf8')))
    .map((file) => relative(SRC, file))
    .sort();
}

describe('one receipt intake', () => {
  it('judges batches and charges their budgets in src/receipts/intake.ts only', () => {
    expect(filesMatching(/\bjudgeReceiptBatch\(/)).toEqual([
      'receipts/check.ts',
      'receipts/intake.ts',
    ]);
    expect(filesMatching(/\bcheckers\.prepare\(/)).toEqual(['receipts/intake.ts']);
  });

  it('answers POST /receipts with one route, the node and the witness alike', () => {
    expect(filesMatching(/\bapp\.post\(\s*'\/receipts'/)).toEqual(['http/routes/receipts.ts']);
  });
});
