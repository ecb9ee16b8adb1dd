#!/usr/bin/env node
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Updater } from 'tuf-js';
import { AgentFetcher } from '../agent/fetcher.js';
import { describeRefusal } from '../agent/threats.js';

// The tuf-conformance client contract: the agent's TUF engine and fetcher, driven by the
// public conformance suite. Exit 0 on success, 1 on any failure.
//   --metadata-dir D init ROOT
//   --metadata-dir D --metadata-url U refresh
//   --metadata-dir D --metadata-url U --target-name P --target-base-url U --target-dir T download

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: {
      'metadata-dir': { type: 'string' },
      'metadata-url': { type: 'string' },
      'target-name': { type: 'string' },
      'target-base-url': { type: 'string' },
      'target-dir': { type: 'string' },
    },
    allowPositionals: true,
  });
  const dir = values['metadata-dir'];
  if (!dir) throw new Error('--metadata-dir is required');
  const [command, arg] = positionals;
  if (command === 'init') {
    if (!arg) throw new Error('init needs the trusted root file');
    mkdirSync(dir, { recursive: true });
    copyFileSync(arg, join(dir, 'root.json'));
    return;
  }
  const metadataBaseUrl = values['metadata-url'];
  if (!metadataBaseUrl) throw new Error('--metadata-url is required');
  const updater = new Updater({
    metadataDir: dir,
    metadataBaseUrl,
    ...(values['target-dir'] ? { targetDir: values['target-dir'] } : {}),
    ...(values['target-base-url'] ? { targetBaseUrl: values['target-base-url'] } : {}),
    fetcher: new AgentFetcher({ attempts: 1, timeoutMs: 10_000 }),
  });
  if (command === 'refresh') return updater.refresh();
  if (command === 'download') {
    const name = values['target-name'];
    if (!name || !values['target-dir'])
      throw new Error('download needs --target-name and --target-dir');
    await updater.refresh();
    const info = await updater.getTargetInfo(name);
    if (!info) throw new Error(`${name} is not a target`);
    if (!(await updater.findCachedTarget(info))) await updater.downloadTarget(info);
    return;
  }
  throw new Error(`unknown command ${command ?? ''}`);
}

main().catch((error: unknown) => {
  console.error(`fairpatch-tuf-client: ${describeRefusal(error)}`);
  process.exitCode = 1;
});
