import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// The boundaries of the code, checked on every run like a lint rule: the folders of src/ form layers
// (LAYERS below: each folder imports only the folders it lists, all of them lower), no import closes a
// folder cycle, client code (the agent, the auditor and their commands) never reaches into the server,
// and the libraries every side shares (src/tuf, src/log's pure half, src/common) depend on nothing
// else in src/ but src/errors.ts.

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
  const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'(\.[^']+)'/g)].map(
    (m) => m[1]!,
  );
  return specifiers.map((s) => relative(SRC, resolve(dirname(file), s)));
}

/**
 * The layering of src/, lowest first: each folder and the folders it may import (src/errors.ts, the
 * one table of error codes, any folder may). A folder lists only folders above it in this table, so
 * the layering itself has no cycle; a new folder, or a new kind of dependency, is a line here first.
 */
const LAYERS: Array<{ folder: string; imports: string[]; why: string }> = [
  {
    folder: 'common',
    imports: [],
    why: 'pure pieces every side shares: names, time, Ed25519, canonical JSON, statements',
  },
  {
    folder: 'tuf',
    imports: ['common'],
    why: 'TUF metadata, keys and roles, for servers and clients alike',
  },
  {
    folder: 'advisory',
    imports: ['common', 'tuf'],
    why: 'advisories (CSAF 2.0, OSV) rendered from a release: the vendor, nodes and clients alike',
  },
  {
    folder: 'config',
    imports: ['common'],
    why: "settings machinery: kinds of value, sources, docs tables (each server's table lives with it)",
  },
  {
    folder: 'db',
    imports: ['common', 'tuf'],
    why: 'the schema, the dialects and migrations; pool bounds are passed in',
  },
  {
    folder: 'log',
    imports: ['common', 'tuf', 'db'],
    why: 'transparency logs: Merkle tree, notes, checkpoints, leaves, and the log store',
  },
  {
    folder: 'rollout',
    imports: ['common', 'log'],
    why: 'staged rollouts: plans, stage timing, the lottery and its salt, parity bounds',
  },
  {
    folder: 'net',
    imports: ['common', 'tuf', 'log'],
    why: "clients' bounded reads of other servers (log key rotations)",
  },
  {
    folder: 'keys',
    imports: ['common', 'tuf', 'log'],
    why: 'key files and key generation (TUF roles, log keys)',
  },
  {
    folder: 'publish',
    imports: ['common', 'tuf', 'advisory', 'net', 'rollout'],
    why: "the vendor's side: manifests, builds, the publisher client",
  },
  {
    folder: 'agent',
    imports: ['common', 'tuf', 'advisory', 'log', 'net', 'rollout'],
    why: 'the client that polls, installs and signs receipts; nothing of the server',
  },
  {
    folder: 'audit',
    imports: ['common', 'tuf', 'log', 'net', 'rollout'],
    why: "the auditor's verdicts from public evidence; nothing of the server",
  },
  {
    folder: 'storage',
    imports: ['common', 'db'],
    why: "artifacts' bytes by hash: the blob stores (database, files) and the import between them",
  },
  {
    folder: 'serving',
    imports: ['common', 'tuf', 'advisory'],
    why: 'the poll path: the view of a tick, timestamp rendering, fast poll, accounting, push',
  },
  {
    folder: 'release',
    imports: ['common', 'tuf', 'db', 'log', 'rollout', 'serving'],
    why: 'the release lifecycle: staging, the repository, embargoes, evidence for the log',
  },
  {
    folder: 'receipts',
    imports: ['common', 'tuf', 'db', 'log'],
    why: "agents' receipts and install reports: checks, budgets, intake",
  },
  {
    folder: 'metrics',
    imports: ['serving'],
    why: "a node's Prometheus metrics (group names bounded as accounting bounds them)",
  },
  {
    folder: 'http',
    imports: [
      'common',
      'tuf',
      'advisory',
      'db',
      'log',
      'rollout',
      'audit',
      'storage',
      'serving',
      'release',
      'receipts',
      'metrics',
    ],
    why: 'the routes and middleware; given its settings, never reads them',
  },
  {
    folder: 'witness',
    imports: ['common', 'tuf', 'config', 'db', 'log', 'net', 'keys', 'receipts', 'http'],
    why: 'a witness: a server of its own (settings, intake, cosigning)',
  },
  {
    folder: 'demo',
    imports: ['common', 'keys', 'agent'],
    why: 'the demo fleet of agents beside a dev node',
  },
  {
    folder: 'server',
    imports: [
      'common',
      'tuf',
      'config',
      'db',
      'log',
      'net',
      'keys',
      'publish',
      'storage',
      'serving',
      'release',
      'receipts',
      'metrics',
      'http',
      'witness',
      'demo',
    ],
    why: "a node: its settings, its one composition root; both servers' processes, start to shutdown",
  },
  {
    folder: 'cli',
    imports: [
      'common',
      'tuf',
      'config',
      'log',
      'net',
      'keys',
      'rollout',
      'publish',
      'agent',
      'audit',
      'witness',
      'server',
    ],
    why: 'the commands: parse, then call one of the sides',
  },
];

/** The folder of a path relative to src/ ('' for a file directly in src/, such as errors.ts). */
const folderOf = (path: string): string => (path.includes('/') ? path.split('/')[0]! : '');

/** Folder → folders its files import (static and dynamic), from the source itself. */
function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of files(SRC).map((f) => relative(SRC, f))) {
    const from = folderOf(file);
    if (!graph.has(from)) graph.set(from, new Set());
    for (const target of importsOf(join(SRC, file))) {
      const to = folderOf(target);
      if (to !== from) graph.get(from)!.add(to);
    }
  }
  return graph;
}

/** The folders on some cycle of `graph`, one list per cycle found (depth-first search, back edges). */
function cycles(graph: Map<string, Set<string>>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return found;
}

const SERVER = [
  'release/',
  'serving/',
  'storage/',
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

describe('the layers of src/', () => {
  const allowed = new Map(LAYERS.map((l) => [l.folder, new Set(l.imports)]));

  it('every folder of src/ has its line in the table', () => {
    const folders = [...folderGraph().keys()].filter((f) => f !== '').sort();
    expect(folders.filter((f) => !allowed.has(f))).toEqual([]);
  });

  it('each folder lists only folders below it, so the table itself has no cycle', () => {
    const below = (i: number) => new Set(LAYERS.slice(0, i).map((l) => l.folder));
    expect(
      LAYERS.flatMap((l, i) =>
        l.imports.filter((f) => !below(i).has(f)).map((f) => `${l.folder} lists ${f}`),
      ),
    ).toEqual([]);
  });

  it('no file imports a folder its folder may not (only the table allows, and errors.ts)', () => {
    const outside = files(SRC)
      .map((f) => relative(SRC, f))
      .flatMap((file) =>
        importsOf(join(SRC, file))
          .filter((target) => {
            const from = folderOf(file);
            const to = folderOf(target);
            if (to === from || target === 'errors.js') return false;
            return !allowed.get(from)?.has(to);
          })
          .map((target) => `${file} imports ${target}`),
      );
    expect(outside).toEqual([]);
  });

  it('no import closes a cycle between folders', () => {
    expect(cycles(folderGraph())).toEqual([]);
  });

  it('the checks see what they check (a rule that cannot fail is no rule)', () => {
    const graph = folderGraph();
    expect([...(graph.get('cli') ?? [])]).toContain('server');
    expect([...(graph.get('tuf') ?? [])]).toContain('common');
    const cyclic = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a'])],
      ['d', new Set(['a'])],
    ]);
    expect(cycles(cyclic)).toEqual([['a', 'b', 'c', 'a']]);
    expect(
      cycles(
        new Map([
          ['a', new Set(['b'])],
          ['b', new Set<string>()],
        ]),
      ),
    ).toEqual([]);
  });
});

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

  it('fairpatch serve parses its options and calls the server: a node is put together in src/server only', () => {
    // Settings and the command's own plumbing, then one entry point (src/server/serve.ts), which
    // opens the node through createNode, the one composition root.
    expect(importsOf(join(SRC, 'cli/serve.ts')).sort()).toEqual([
      'cli/errors.js',
      'cli/setting-options.js',
      'cli/spec.js',
      'server/config.js',
      'server/serve.js',
    ]);
  });

  it('the check sees imports at all (a rule that cannot fail is no rule)', () => {
    expect(importsOf(join(SRC, 'agent/agent.ts')).length).toBeGreaterThan(5);
    expect(violations(['agent/'], (t) => t.startsWith('common/'))).not.toEqual([]);
  });
});
