import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type ShellBlock, shellBlocks } from '../helpers/doc-blocks.js';
import {
  type Started,
  copyRepository,
  forgetNpxLinks,
  freePort,
  freshEnv,
  gitStatus,
  runBlock,
  startBlock,
  stopBlock,
} from '../helpers/doc-run.js';

const REPO_ROOT = new URL('../..', import.meta.url).pathname;

/** README.md first, then every document of docs/: the order a reader goes in. */
function documents(root: string): Array<{ file: string; blocks: ShellBlock[] }> {
  const docs = readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs].map((file) => ({
    file,
    blocks: shellBlocks(readFileSync(join(root, file), 'utf8')),
  }));
}

describe('shellBlocks: the blocks of a document, and how each runs', () => {
  it('reads sh/bash/console fences, their markers, and nothing inside other fences', () => {
    const doc = [
      '```sh',
      'echo one',
      '```',
      '<!-- not run: needs a second machine -->',
      '',
      '```bash',
      'ssh other',
      '```',
      '<!-- background: ready at http://127.0.0.1:8080/healthz -->',
      '```sh',
      'npm start',
      '```',
      '```console',
      '$ npx fairpatch -v',
      '0.1.0',
      '```',
      '````md',
      '```sh',
      'not a block',
      '```',
      '````',
      '```nginx',
      'listen 80;',
      '```',
    ].join('\n');
    expect(shellBlocks(doc)).toEqual([
      { line: 1, code: 'echo one', mode: 'run' },
      { line: 6, code: 'ssh other', mode: 'not-run', reason: 'needs a second machine' },
      {
        line: 10,
        code: 'npm start',
        mode: 'background',
        readyAt: 'http://127.0.0.1:8080/healthz',
      },
      { line: 13, code: 'npx fairpatch -v', mode: 'run' },
    ]);
    expect(() => shellBlocks('<!-- background: soon -->\n```sh\nx\n```')).toThrow(/ready at/);
    expect(() => shellBlocks('```sh\nx\n')).toThrow(/never closed/);
  });
});

// Every shell block of README.md (and docs/*.md), in order, in a fresh copy of the repository,
// against the servers the blocks themselves start: no value is set by hand, a later command reads
// what an earlier one wrote. Ports 8080 and 8090 become free ones (PORT too, which npm start reads),
// so the test runs beside anything else on this machine; nothing else in a block is changed.
describe('the README runs as written', () => {
  const dirs: string[] = [];
  const started: Started[] = [];
  afterAll(async () => {
    for (const s of started.reverse()) await stopBlock(s);
    for (const d of dirs) {
      rmSync(d, { recursive: true, force: true });
      forgetNpxLinks(d);
    }
  });

  it('starts with the two commands: run the demo, run every test (the command CI runs)', () => {
    const [run, test] = shellBlocks(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'));
    expect(run).toMatchObject({ mode: 'background' });
    expect(run!.code).toMatch(/^npm install && npm start\b/);
    const testCommand = 'bash scripts/install-system-packages.sh && npm ci && npm test';
    expect(test!.code).toContain(testCommand);
    expect(readFileSync(join(REPO_ROOT, '.ci/run'), 'utf8')).toContain(
      'bash scripts/install-system-packages.sh && npm ci --no-audit --no-fund && npm test',
    );
  });

  it('every block runs in a fresh copy, and what they write is git-ignored', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'fairpatch-readme-'));
    dirs.push(copy);
    copyRepository(REPO_ROOT, copy);
    const ports = { 8080: await freePort(), 8090: await freePort() };
    const localise = (code: string) =>
      code.replace(/\b8080\b/g, String(ports[8080])).replace(/\b8090\b/g, String(ports[8090]));
    const env = freshEnv({ PORT: String(ports[8080]) });

    const docs = documents(copy);
    const notRun = docs.flatMap(({ file, blocks }) =>
      blocks.filter((b) => b.mode === 'not-run').map((b) => `${file}:${b.line}: ${b.reason}`),
    );
    // A few, each saying why; every other block runs.
    expect(notRun.length, notRun.join('\n')).toBeLessThanOrEqual(8);
    for (const line of notRun) expect(line).toMatch(/: \S.{10,}/);

    let ran = 0;
    for (const { file, blocks } of docs) {
      for (const block of blocks) {
        if (block.mode === 'not-run') continue;
        const code = localise(block.code);
        const options = { cwd: copy, env, timeoutMs: 300_000 };
        if (block.mode === 'background')
          started.push(await startBlock(file, block, code, localise(block.readyAt!), options));
        else await runBlock(file, block, code, options);
        ran++;
      }
    }
    expect(ran).toBeGreaterThanOrEqual(10);
    // The servers they started are still up at the end (none died half-way).
    for (const s of started) expect(s.child.exitCode, s.output()).toBeNull();
    for (const s of started.splice(0).reverse()) await stopBlock(s);

    // Keys, tokens, state, downloads and installs all landed in git-ignored places.
    expect(gitStatus(copy)).toBe('');
  }, 900_000);
});
