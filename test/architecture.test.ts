import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// The boundaries of the code, checked on every run like a lint rule: client code (the agent, the
// auditor and their commands) never reaches into the server, and the libraries every side shares
// (src/tuf, src/log's pure half, src/common) depend on nothing else in src/ but src/errors.ts.

const SRC = resolve(new URL('../src', import.meta.url).pathname);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : /\.tsx?$/.test(name) ? [path] : [];
  });
}

/** Every module a file imports from inside src/, as a path relative to src/ (static and dynamic imports). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.[^']+)'/g)].map((m) => m[1]!);
  return specifiers.map((s) => relative(SRC, resolve(dirname(file), s)));
}

const SERVER = [
  'release/',
  'server/',
  'http/',
  'db/',
  'keys/',
  'receipts/intake',
  'witness/',
  'metrics/',
];
const CLIENT = [
  'agent/',
  'audit/',
  'cli/agent.ts',
  'cli/agent-receipts.ts',
  'cli/audit.ts',
  'cli/audit-inputs.ts',
  'cli/tuf-client.ts',
];
const SHARED = [
  'tuf/',
  'common/',
  'log/merkle.ts',
  'log/note.ts',
  'log/checkpoint.ts',
  'log/leaves.ts',
  'log/tree.ts',
  'log/cosignature.ts',
  'log/embargo-leaves.ts',
  'log/limits.ts',
  'log/log-keys.ts',
];

const violations = (from: string[], forbidden: (target: string) => boolean): string[] =>
  files(SRC)
    .map((f) => relative(SRC, f))
    .filter((f) => from.some((p) => f.startsWith(p)))
    .flatMap((f) =>
      importsOf(join(SRC, f))
        .filter(forbidden)
        .map((target) => `${f} imports ${target}`),
    );

describe('the boundaries of the code', () => {
  it('client code (agent, auditor) imports nothing from the server', () => {
    expect(violations(CLIENT, (t) => SERVER.some((s) => t.startsWith(s)))).toEqual([]);
  });

  it('shared libraries (tuf, common, the pure log) depend on nothing else in src/ but errors', () => {
    expect(
      violations(
        SHARED,
        (t) => !SHARED.some((s) => t.startsWith(s.replace(/\.ts$/, ''))) && !t.startsWith('errors'),
      ),
    ).toEqual([]);
  });

  it('the check sees imports at all (a rule that cannot fail is no rule)', () => {
    expect(importsOf(join(SRC, 'agent/agent.ts')).length).toBeGreaterThan(5);
    expect(violations(['agent/'], (t) => t.startsWith('common/'))).not.toEqual([]);
  });
});
