import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** A file of bench/ (its results), whether this runs from bench/lib or from dist-bench/bench/lib. */
export const benchFile = (name: string): URL => new URL(`../../../bench/${name}`, import.meta.url);

/** bench/RESULTS.md: the default set's results, and each benchmark's section of them. */
export const RESULTS = benchFile('RESULTS.md');

/** The `## ` sections of a markdown file, keyed by their heading line. */
export function sections(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('## ')) {
      current = [line];
      out.set(line, current);
    } else current?.push(line);
  }
  return out;
}

/**
 * Writes `lines` (starting with a `## ` heading) in place of the section with a heading starting
 * with `prefix`, or at the end: one benchmark updates its section and keeps the others' figures.
 */
export function replaceSection(file: URL, prefix: string, lines: string[]): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const all = text.split('\n');
  const from = all.findIndex((l) => l.startsWith(prefix));
  const body = [...lines, ''];
  if (from < 0) {
    while (all.length > 0 && all.at(-1) === '') all.pop();
    writeFileSync(file, [...all, '', ...body].join('\n'));
    return;
  }
  let to = all.findIndex((l, i) => i > from && l.startsWith('## '));
  if (to < 0) to = all.length;
  const tail = all.slice(to);
  writeFileSync(file, [...all.slice(0, from), ...body, ...tail].join('\n').replace(/\n*$/, '\n'));
}
