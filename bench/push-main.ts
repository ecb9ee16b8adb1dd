import { RESULTS, replaceSection } from './lib/sections.js';
import { pushSection, sseBenchmark } from './sse.js';

// `npm run bench:push`: only the push benchmark (10,000 event streams, one activation); rewrites
// that section of bench/RESULTS.md and keeps the others.

const lines = pushSection(await sseBenchmark(), 'npm run bench:push');
console.log(lines.join('\n'));
replaceSection(RESULTS, '## Push', lines);
