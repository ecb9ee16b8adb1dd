import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BENCH = new URL('../bench/', import.meta.url).pathname;

/** Every .ts file under bench/, relative to it. */
function benchFiles(dir = ''): string[] {
  return readdirSync(join(BENCH, dir), { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return benchFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

const importsOf = (file: string): string[] =>
  [...readFileSync(join(BENCH, file), 'utf8').matchAll(/(?:from|import\()\s*'([^']+)'/g)].map(
    (m) => m[1]!,
  );

describe('bench/: entry points, sections and lib', () => {
  it('imports nothing from test/ (what both use lives in bench/lib or src)', () => {
    const fromTest = benchFiles().flatMap((file) =>
      importsOf(file)
        .filter((spec) => /(^|\/)test\//.test(spec))
        .map((spec) => `${file} imports ${spec}`),
    );
    expect(fromTest).toEqual([]);
  });

  it('every section that runs on its own is a NAME of the one runner, bench/main.ts', () => {
    const runner = readFileSync(join(BENCH, 'main.ts'), 'utf8');
    const runnable = readdirSync(join(BENCH, 'sections')).filter((name) =>
      /export async function run\(/.test(readFileSync(join(BENCH, 'sections', name), 'utf8')),
    );
    expect(runnable.length).toBeGreaterThan(5);
    for (const name of runnable)
      expect(runner, name).toContain(`import('./sections/${name.replace(/\.ts$/, '.js')}')`);
  });
});
