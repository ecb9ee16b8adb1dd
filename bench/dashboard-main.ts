import { dashboardBenchmark, dashboardSection } from './dashboard.js';
import { RESULTS, replaceSection } from './lib/sections.js';

// `npm run bench:dashboard`: the dashboard rebuild on a large log and after a junk-receipt flood
// (bench/dashboard.ts); its section of bench/RESULTS.md is replaced, the others kept.
// BENCH_DASHBOARD_LEAVES and BENCH_DASHBOARD_FLOOD set the sizes (1,000,000 and 40,000).

const lines = dashboardSection(await dashboardBenchmark(), 'npm run bench:dashboard');
for (const line of lines) console.log(line);
replaceSection(RESULTS, '## Dashboard rebuild', lines);
