#!/usr/bin/env node
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AgentFetcher } from '../agent/fetcher.js';
import { UnknownTargetError } from '../agent/errors.js';
import { describeRefusal } from '../agent/threats.js';
import { CodedUpdater } from '../agent/updater.js';
import { UsageError } from './errors.js';
import { EXIT } from './exit-codes.js';

// The tuf-conformance client contract: the agent's TUF engine and fetcher, driven by the
// public conformance suite. Exit 0 on success, 1 on any failure (64 for a wrong command line).
//   --metadata-dir D init ROOT
//   --metadata-dir D --metadata-url U refresh
//   --metadata-dir D --metadata-url U --target-name P [--target-name P2 …] --target-base-url U --target-dir T download
// Several --target-name are downloaded in order; the exit status is 1 if any of them failed.

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: {
      'metadata-dir': { type: 'string' },
      'metadata-url': { type: 'string' },
      'target-name': { type: 'string', multiple: true },
      'target-base-url': { type: 'string' },
      'target-dir': { type: 'string' },
    },
    allowPositionals: true,
  });
  const dir = values['metadata-dir'];
  if (!dir) throw new UsageError('--metadata-dir is required');
  const [command, arg] = positionals;
  if (command === 'init') {
    if (!arg) throw new UsageError('init needs the trusted root file');
    mkdirSync(dir, { recursive: true });
    copyFileSync(arg, join(dir, 'root.json'));
    return;
  }
  const metadataBaseUrl = values['metadata-url'];
  if (!metadataBaseUrl) throw new UsageError('--metadata-url is required');
  const updater = (): CodedUpdater =>
    new CodedUpdater({
      metadataDir: dir,
      metadataBaseUrl,
      ...(values['target-dir'] ? { targetDir: values['target-dir'] } : {}),
      ...(values['target-base-url'] ? { targetBaseUrl: values['target-base-url'] } : {}),
      fetcher: new AgentFetcher({ attempts: 1, timeoutMs: 10_000 }),
    });
  if (command === 'refresh') return updater().refresh();
  if (command === 'download') {
    const names = values['target-name'] ?? [];
    const targetDir = values['target-dir'];
    if (names.length === 0 || !targetDir)
      throw new UsageError('download needs --target-name and --target-dir');
    mkdirSync(targetDir, { recursive: true });
    // One updater for every name, as the contract has it. A delegated role loaded for an earlier
    // name is checked again against the delegator of the current path (tuf-js 6; tuf-js 5 handed
    // it back unchecked: the conformance suite's test_cached_role_is_verified_against_current_delegator,
    // test/agent/cached-delegation.test.ts).
    const u = updater();
    await u.refresh();
    let failed = 0;
    for (const name of names) {
      try {
        const info = await u.getTargetInfo(name);
        if (!info) throw new UnknownTargetError(name);
        if (!(await u.findCachedTarget(info))) await u.downloadTarget(info);
      } catch (error) {
        failed++;
        console.error(`fairpatch-tuf-client: ${name}: ${describeRefusal(error)}`);
      }
    }
    if (failed > 0) process.exitCode = EXIT.FAILED;
    return;
  }
  throw new UsageError(`unknown command ${command ?? ''}`);
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(`fairpatch-tuf-client: ${error.message}`);
    process.exitCode = EXIT.USAGE;
    return;
  }
  console.error(`fairpatch-tuf-client: ${describeRefusal(error)}`);
  process.exitCode = EXIT.FAILED;
});
