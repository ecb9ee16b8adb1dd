import { cpus, loadavg } from 'node:os';
import { replaceSection, RESULTS } from './lib/sections.js';
import { workersBenchmark, workersSection } from './workers.js';

// `npm run bench:workers`: the every-core poll benchmark alone; its section of bench/RESULTS.md is
// replaced (or added), the rest of the file is kept.

const started = new Date();
const loadBefore = loadavg()[0] ?? 0;
const result = await workersBenchmark();
const loadAfter = loadavg()[0] ?? 0;
const section = [
  ...workersSection(result),
  '',
  `(\`npm run bench:workers\`, ${started.toISOString()}, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after. wrk runs on the same 2 cores as the servers, so both servers' tail latency is mostly wrk and the servers taking turns on the cores. Polls are answered on the socket (src/server/poll-socket.ts): one write of pre-assembled bytes per poll, no HTTP objects; node:http and Hono see every other request.)`,
];
replaceSection(RESULTS, '## Every core', section);
console.log(section.join('\n'));
