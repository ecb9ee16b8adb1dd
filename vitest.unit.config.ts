import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

// `npm run test:unit`: the tests that start nothing (no server, database, process, browser or
// network), for a feedback loop of seconds. A test file is one of them unless it, or a file of test/
// it imports (a folder's own fixture, say), uses a helper or call that starts something; `npm test`
// still runs every file.
const STARTS_SOMETHING =
  /helpers\/(repo|cli|dialects|process|browser|nginx|witness|postgres-cluster|nodes|tuf-client|drill|cache-agents|audit-scenario|log)\.js|inject\(|createNode|startServer|spawn|execFile|listen\(/;
const RELATIVE_IMPORT = /from '(\.{1,2}\/[^']+)\.js'/g;

/** Whether `path`, or a test-side file it imports, starts something. */
function startsSomething(path: string, seen = new Set<string>()): boolean {
  if (seen.has(path)) return false;
  seen.add(path);
  const text = readFileSync(path, 'utf8');
  if (STARTS_SOMETHING.test(text)) return true;
  return [...text.matchAll(RELATIVE_IMPORT)].some(([, spec]) => {
    const imported = resolve(dirname(path), `${spec}.ts`);
    return imported.includes('/test/') && existsSync(imported) && startsSomething(imported, seen);
  });
}

function unitTests(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return unitTests(path);
    return e.name.endsWith('.test.ts') && !startsSomething(path) ? [path] : [];
  });
}

export default defineConfig({
  test: { include: unitTests('test'), testTimeout: 30_000, maxWorkers: 2 },
});
