import { startCluster } from '../test/helpers/postgres-cluster.js';
import { freshPostgres } from './lib/postgres.js';
import { RESULTS, replaceSection } from './lib/sections.js';
import { switchBenchmark, switchSection } from './switch.js';

// `npm run bench:switch`: only the switch-skew benchmark (3 nodes over PostgreSQL, then over one
// SQLite file); rewrites that section of bench/RESULTS.md and keeps the others.

const ticks = Number(process.env.SWITCH_TICKS ?? 30);
const cluster = process.env.DATABASE_URL ? undefined : await startCluster();
try {
  const admin = process.env.DATABASE_URL ?? cluster!.url;
  const results = [
    await switchBenchmark('PostgreSQL', await freshPostgres(admin), { ticks }),
    await switchBenchmark('SQLite (one WAL file)', undefined, { ticks }),
  ];
  const lines = switchSection(results, 'npm run bench:switch');
  console.log(lines.join('\n'));
  if (!process.env.SWITCH_NO_WRITE) replaceSection(RESULTS, '## Switch skew', lines);
} finally {
  cluster?.stop();
}
