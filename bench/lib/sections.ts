import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** bench/RESULTS.md, whether this runs from bench/ or from its compiled copy in dist-bench/bench/. */
export const RESULTS = new URL('../../../bench/RESULTS.md', import.meta.url);

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
