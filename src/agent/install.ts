import { spawn } from 'node:child_process';
import type { PatchFacts } from '../tuf/metadata.js';

export interface InstallOutcome {
  ok: boolean;
  code: number | null;
  output: string;
}

/**
 * Runs the operator's install command through the shell with the artifact paths and patch facts in
 * its environment. Only exit status 0 counts as installed.
 */
export function runInstall(
  command: string,
  artifacts: Array<{ path: string; target: string }>,
  facts: PatchFacts,
  timeoutMs = 10 * 60_000,
): Promise<InstallOutcome> {
  const env = {
    ...process.env,
    FAIRPATCH_ARTIFACT: artifacts[0]?.path ?? '',
    FAIRPATCH_ARTIFACTS: JSON.stringify(artifacts.map((a) => a.path)),
    FAIRPATCH_TARGET: artifacts[0]?.target ?? '',
    FAIRPATCH_PRODUCT: facts.product,
    FAIRPATCH_VERSION: facts.version,
    FAIRPATCH_PLATFORM: facts.platform,
    FAIRPATCH_CHANNEL: facts.channel,
    FAIRPATCH_SEVERITY: facts.severity,
    FAIRPATCH_CVES: facts.cves.join(','),
    FAIRPATCH_RELEASE_AT: facts.release_at,
  };
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (error) => resolve({ ok: false, code: null, output: error.message }));
    child.on('close', (code) => resolve({ ok: code === 0, code, output }));
  });
}
