/**
 * The shell blocks of a Markdown document, in order, as a reader would paste them into a terminal.
 *
 * A block is a fence whose info string is `sh`, `bash`, `shell` or `console` (of a `console` block,
 * only the lines after a `$ ` prompt are commands; the rest is what they print). An HTML comment on
 * the last non-blank line before the fence says how it runs; nothing else is read from the prose:
 *
 *   <!-- not run: REASON -->            skipped, and the reason is kept (a second machine, the suite itself…)
 *   <!-- background: ready at URL -->   starts something long-running (a server): run in the background,
 *                                       ready once URL answers, stopped at the end
 */
export interface ShellBlock {
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
  mode: 'run' | 'background' | 'not-run';
  /** For `not-run`: why. */
  reason?: string;
  /** For `background`: the URL that answers once it is ready. */
  readyAt?: string;
}

const FENCE = /^```(sh|bash|shell|console)\s*$/;
const MARKER = /^<!--\s*(not run|background)\s*:\s*(.*?)\s*-->$/;

export function shellBlocks(markdown: string): ShellBlock[] {
  const lines = markdown.split('\n');
  const blocks: ShellBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) {
      // Any other fence is skipped whole, so a shell fence shown inside it is not taken for one.
      if (lines[i]!.startsWith('```')) while (++i < lines.length && !/^```\s*$/.test(lines[i]!));
      continue;
    }
    const start = i;
    const body: string[] = [];
    while (++i < lines.length && !/^```\s*$/.test(lines[i]!)) body.push(lines[i]!);
    if (i >= lines.length) throw new Error(`line ${start + 1}: the shell block is never closed`);
    const code =
      open[1] === 'console' ? body.filter((l) => l.startsWith('$ ')).map((l) => l.slice(2)) : body;
    let before = start - 1;
    while (before >= 0 && lines[before]!.trim() === '') before--;
    const marker = before >= 0 ? MARKER.exec(lines[before]!.trim()) : null;
    const block: ShellBlock = { line: start + 1, code: code.join('\n'), mode: 'run' };
    if (marker?.[1] === 'not run') Object.assign(block, { mode: 'not-run', reason: marker[2] });
    if (marker?.[1] === 'background') {
      const url = /^ready at (\S+)$/.exec(marker[2]!)?.[1];
      if (!url) throw new Error(`line ${before + 1}: write <!-- background: ready at URL -->`);
      Object.assign(block, { mode: 'background', readyAt: url });
    }
    blocks.push(block);
  }
  return blocks;
}
