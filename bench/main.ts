// `npm run bench -- NAME [args]`: one benchmark; `npm run bench` alone: the default set (every
// benchmark of issues 5 and 7, results in bench/RESULTS.md). Each NAME is a module of
// bench/sections/ whose run() measures and writes its own results; they load only when chosen.

interface Section {
  run(args: readonly string[]): Promise<void>;
}

const SECTIONS: Record<string, { what: string; load: () => Promise<Section> }> = {
  default: {
    what: 'the default set, rewriting bench/RESULTS.md (keeps the sections others write)',
    load: () => import('./sections/default.js'),
  },
  poll: {
    what: 'poll throughput vs a bare Hono route, SQLite and PostgreSQL',
    load: () => import('./sections/poll.js'),
  },
  switch: {
    what: "switch skew: 3 nodes' first answers at the tick (SWITCH_TICKS, SWITCH_NO_WRITE)",
    load: () => import('./sections/switch.js'),
  },
  push: {
    what: '10,000 event streams, one activation',
    load: () => import('./sections/push.js'),
  },
  workers: {
    what: 'serve --workers N vs nginx with N workers serving the same bytes',
    load: () => import('./sections/workers.js'),
  },
  dashboard: {
    what: 'dashboard rebuild on a large log and after a flood (BENCH_DASHBOARD_LEAVES, _FLOOD)',
    load: () => import('./sections/dashboard.js'),
  },
  intake: {
    what: "signed receipts per second through the node's and a witness's intake (bench/INTAKE.md)",
    load: () => import('./sections/intake.js'),
  },
  cache: {
    what: 'nginx proxy_cache in front of two nodes, 10,000 agents (bench/CACHE.md)',
    load: () => import('./sections/cache.js'),
  },
  large: {
    what: 'a 50 MiB artifact to 2,000 agents in 5 groups through nginx',
    load: () => import('./sections/large.js'),
  },
  load: {
    what: '10,000 simulated agents across a release for a minute (bench/LOAD.md)',
    load: () => import('./sections/load.js'),
  },
  rollout: {
    what: 'staged rollout: eligibility per agent (µs), parity, the audit pass [releases agents receipts]',
    load: () => import('./sections/rollout.js'),
  },
  agent: {
    what: 'the agent executable vs node dist/cli/main.js agent: size, first poll, idle RSS (bench/AGENT.md)',
    load: () => import('./sections/agent.js'),
  },
  tiles: {
    what: 'log tiles: incremental audits (1M new; 1,000 new on 10M), 1,000 auditors behind nginx',
    load: () => import('./sections/tiles.js'),
  },
  'embargo-lookup': {
    what: 'embargo id lookup timing, existing vs missing [rounds]',
    load: () => import('./sections/embargo-lookup.js'),
  },
};

const list = (print: (line: string) => void): void => {
  for (const [n, { what }] of Object.entries(SECTIONS)) print(`  ${n.padEnd(15)} ${what}`);
};

const [name = 'default', ...args] = process.argv.slice(2);
const section = SECTIONS[name];
if (name === 'help') {
  console.log('npm run bench -- NAME [args], NAME one of:');
  list(console.log);
} else if (!section) {
  console.error(`unknown benchmark ${JSON.stringify(name)}; one of:`);
  list(console.error);
  process.exit(64);
} else await (await section.load()).run(args);
