import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { workersBenchmark, workersSection } from './workers.js';

// `npm run bench:workers`: the every-core poll benchmark alone; its section of bench/RESULTS.md is
// replaced (or added), the rest of the file is kept.

const file = new URL('../../bench/RESULTS.md', import.meta.url);
const started = new Date();
const result = await workersBenchmark();
const section = [
  ...workersSection(result),
  '',
  `(\`npm run bench:workers\`, ${started.toISOString()}, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; the machine was shared with other work.)`,
  '',
].join('\n');
const text = readFileSync(file, 'utf8');
const start = text.indexOf('## Every core');
const end = start < 0 ? -1 : text.indexOf('\n## ', start + 1);
const updated = start < 0 ? `${text.trimEnd()}\n\n${section}` : `${text.slice(0, start)}${section}${end < 0 ? '' : text.slice(end + 1)}`;
writeFileSync(file, updated);
console.log(section);
