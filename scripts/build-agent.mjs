#!/usr/bin/env node
// npm run build:agent [-- --version-stamp V] [-- --out FILE]: the agent as one executable for this
// machine's platform (linux-x64 here) that needs no node_modules at run time, a Node single
// executable application (https://nodejs.org/api/single-executable-applications.html):
//   1. esbuild bundles src/cli/agent-main.ts (`fairpatch agent`, nothing else) into one CommonJS file,
//      the version stamped in (the agent compares fairpatch/agent releases with it);
//   2. `node --experimental-sea-config` turns it into a blob (with V8's code cache: a faster start);
//   3. a copy of the node running this script gets the blob injected with postject.
// The executable is whatever Node runs this script (20 or 24): it carries that runtime.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { inject } from 'postject';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');
// The sentinel every Node binary carries for postject to flip: "a blob is injected, run it".
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const { values } = parseArgs({
  options: {
    'version-stamp': { type: 'string' },
    out: { type: 'string', default: join(ROOT, 'dist-agent', 'fairpatch-agent') },
  },
});
const version =
  values['version-stamp'] ?? JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
const out = resolve(values.out);
const work = `${out}.build`;
mkdirSync(work, { recursive: true });

const bundle = join(work, 'agent.cjs');
await build({
  entryPoints: [join(ROOT, 'src/cli/agent-main.ts')],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: `node${process.versions.node.split('.')[0]}`,
  outfile: bundle,
  define: { FAIRPATCH_AGENT_VERSION: JSON.stringify(version) },
  // agentVersion()'s package.json fallback (for node dist/cli/main.js) is dead code once stamped.
  logOverride: { 'empty-import-meta': 'silent' },
  logLevel: 'warning',
});

const blob = join(work, 'agent.blob');
const seaConfig = join(work, 'sea-config.json');
writeFileSync(
  seaConfig,
  JSON.stringify({
    main: bundle,
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
  }),
);
execFileSync(process.execPath, ['--experimental-sea-config', seaConfig], { stdio: 'inherit' });

// Written beside the output and renamed over it: a reader never sees half an executable.
const partial = `${out}.partial`;
copyFileSync(process.execPath, partial);
chmodSync(partial, 0o755);
await inject(partial, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: FUSE });
// The stamp it answers is the one asked for: the executable starts, and its agent knows its version.
const answered = execFileSync(partial, ['--version'], { encoding: 'utf8' }).trim();
if (answered !== version) throw new Error(`${partial} --version says ${answered}, not ${version}`);
renameSync(partial, out);
rmSync(work, { recursive: true, force: true });
console.log(`${out}: fairpatch-agent ${version}, node ${process.version}`);
