#!/usr/bin/env node
// A stock TUF client against a fairpatch node: tuf-js as published, no fairpatch code in between.
// It fetches one target for one customer group and says, in one line, what it got:
//
//   node examples/tuf-js-client.mjs [--server URL] [--group G] [--root FILE] [--out DIR] TARGET
//
// tuf-js is resolved from this repository's node_modules, and the defaults (the trusted root in keys/,
// the client's state under data/, which git ignores) from this repository too, so it runs from any
// directory. Exit status: 0 downloaded and verified; 1 not a target (not released yet, withdrawn or
// misspelt), a refusal, or the node unreachable.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repository = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(repository, 'package.json'));

function fail(line) {
  console.error(`tuf-js-client: ${line}`);
  process.exit(1);
}

let parsed;
try {
  parsed = parseArgs({
    options: {
      server: { type: 'string', default: `http://127.0.0.1:${process.env.PORT ?? 8080}` },
      group: { type: 'string', default: 'eu-west' },
      root: { type: 'string', default: join(repository, 'keys', '1.root.json') },
      out: { type: 'string', default: join(repository, 'data', 'tuf-js-client') },
    },
    allowPositionals: true,
  });
} catch (error) {
  fail(error.message);
}
const { values, positionals } = parsed;
if (positionals.length !== 1)
  fail(
    'name one target, e.g. acme/acme-agent-2.4.1-linux-x64.sh (options: --server --group --root --out)',
  );
const [target] = positionals;
if (!existsSync(values.root))
  fail(`no trusted root at ${values.root}: npm start writes keys/1.root.json, or pass --root FILE`);

let Updater;
try {
  ({ Updater } = require('tuf-js'));
} catch {
  fail(`tuf-js is not installed in ${repository}: run npm install there`);
}

// One client state per group: its metadata (starting from the trusted root) and its targets.
const dir = join(values.out, values.group);
const metadataDir = join(dir, 'metadata');
const targetDir = join(dir, 'targets');
mkdirSync(metadataDir, { recursive: true });
// A client keeps the root it has already updated to; the file given is only where it starts.
if (!existsSync(join(metadataDir, 'root.json')))
  copyFileSync(values.root, join(metadataDir, 'root.json'));

const base = `${values.server.replace(/\/+$/, '')}/g/${encodeURIComponent(values.group)}`;
const updater = new Updater({
  metadataDir,
  metadataBaseUrl: `${base}/metadata`,
  targetDir,
  targetBaseUrl: `${base}/targets`,
});

try {
  await updater.refresh();
  const info = await updater.getTargetInfo(target);
  if (!info)
    fail(
      `${target} is not in the metadata served to ${values.group}: not released yet, withdrawn, or misspelt`,
    );
  const file = join(targetDir, ...target.split('/'));
  mkdirSync(dirname(file), { recursive: true });
  await updater.downloadTarget(info, file);
  const shown = relative(process.cwd(), file);
  console.log(
    `${target}: ${info.length} bytes, sha256 ${info.hashes.sha256}, verified against the signed metadata; saved to ${shown.startsWith('..') ? file : shown}`,
  );
} catch (error) {
  const cause = error?.cause?.code ?? error?.cause?.message;
  fail(`${target}: ${error?.message ?? error}${cause ? ` (${cause})` : ''}`);
}
