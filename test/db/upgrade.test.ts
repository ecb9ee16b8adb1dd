import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit/run.js';
import { createNode } from '../../src/server/node.js';
import { listen, readRoot } from '../helpers/repo.js';
import { tufClient } from '../helpers/tuf-client.js';
import { previousReleaseData } from '../helpers/previous-release.js';

// docs/operations.md's upgrade: a data directory written by the previous release (commit 004866b:
// `serve --dev` published the examples, the operator declared eu-west and us-east, quill halted
// libquill 3.8.2, then SIGTERM) is opened by today's code, which migrates it and serves it. The
// previous release is built from this repository's history for the run (test/helpers/previous-release.ts),
// so none of its keys is ever committed.

const PREVIOUS_RELEASE = '004866b';
const ARTIFACTS = new URL('../../manifests/artifacts/', import.meta.url).pathname;

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe("a previous release's data directory", () => {
  it('opens, migrates and serves: a stock TUF client installs what it published, not what it halted; its log audits', async () => {
    const { dataDir, keysDir, haltEffectiveAt } = await previousReleaseData(PREVIOUS_RELEASE);
    // Opened once the halt it staged is due (a lead time after it was staged): a clock that far on.
    const offset = Math.max(0, haltEffectiveAt - Date.now());
    const clock = { now: () => Date.now() + offset };
    const node = await createNode({ dataDir, keysDir, clock });
    cleanup.push(() => node.close());
    // What went live while it was down is logged now, as at any restart.
    await node.evidence.activations();
    await node.sequencer.idle();
    const http = await listen(node.app);
    cleanup.push(() => http.close());

    const client = tufClient(http.url, 'eu-west', join(keysDir, '1.root.json'));
    const updater = client.updater();
    await updater.refresh();
    const fix = await updater.getTargetInfo('acme/acme-agent-2.4.1-linux-x64.sh');
    expect(fix).toBeDefined();
    const file = await updater.downloadTarget(fix!, join(client.dir, 'targets', 'fix.sh'));
    expect(readFileSync(file)).toEqual(
      readFileSync(join(ARTIFACTS, 'acme-agent-2.4.1-linux-x64.sh')),
    );
    // Published, then halted by its vendor: no longer offered.
    expect(await updater.getTargetInfo('quill/libquill-3.8.2.tar')).toBeUndefined();

    const outcome = await runAudit({
      server: http.url,
      stateDir: mkdtempSync(join(tmpdir(), 'fairpatch-audit-')),
      logKey: node.logVerifierKey,
      root: readRoot(keysDir),
      now: clock.now(),
    });
    const report = outcome.report!;
    expect(report.declaredGroups).toEqual(['eu-west', 'us-east']);
    expect(report.findings.filter((f) => f.kind === 'log-inconsistent')).toEqual([]);
    const acme = report.releases.find((r) => r.title === 'acme-agent 2.4.1');
    expect(acme?.activation).toBeDefined();
    const quill = report.releases.find((r) => r.vendor === 'quill' && r.withdrawn);
    expect(quill?.withdrawn?.beforeLive).toBe(false);
  }, 120_000);
});
