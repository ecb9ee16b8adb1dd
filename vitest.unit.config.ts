import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// `npm run test:unit`: the tests that start nothing (no server, database, process, browser or
// network), for a feedback loop of seconds. A test file is one of them unless it uses a helper or
// call that starts something; `npm test` still runs every file.
const STARTS_SOMETHING =
  /helpers\/(repo|cli|dialects|process|browser|nginx|witness|postgres-cluster|nodes|tuf-client|drill|cache-agents|audit-scenario|log)\.js|inject\(|createNode|startServer|spawn|execFile|listen\(/;

function unitTests(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return unitTests(path);
    return e.name.endsWith('.test.ts') && !STARTS_SOMETHING.test(readFileSync(path, 'utf8'))
      ? [path]
      : [];
  });
}

export default defineConfig({
  test: { include: unitTests('test'), testTimeout: 30_000, maxWorkers: 2 },
});
