import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runAudit } from '../../src/audit/run.js';
import { parseRoot } from '../../src/tuf/schema.js';
import type { Envelope, RootSigned } from '../../src/tuf/metadata.js';

// One `fairpatch audit` run in a process of its own, so its time and peak RSS are the audit's alone:
//   node audit-child.js SERVER STATE_DIR LOG_KEY_FILE ROOT_FILE
// prints {"seconds", "maxRssMiB", "verdict", "stateBytes", "size", "error"} as one JSON line.
const [server, stateDir, logKeyFile, rootFile] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
];
/**
 * This process's peak RSS: VmHWM, which starts anew at exec. Not `resourceUsage().maxRSS`: Linux
 * carries ru_maxrss across fork and exec, so a child reports its parent's peak if that was larger.
 */
function peakRssMiB(): number {
  const line = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return line
    ? Math.round(Number(line[1]) / 1024)
    : Math.round(process.resourceUsage().maxRSS / 1024);
}

const root = parseRoot(JSON.parse(readFileSync(rootFile, 'utf8'))) as Envelope<RootSigned>;
const t0 = performance.now();
const outcome = await runAudit({
  server,
  stateDir,
  logKey: readFileSync(logKeyFile, 'utf8').trim(),
  root,
  now: Date.now(),
});
console.log(
  JSON.stringify({
    seconds: (performance.now() - t0) / 1000,
    maxRssMiB: peakRssMiB(),
    verdict: outcome.report?.verdict,
    stateBytes: readdirSync(stateDir).reduce((n, f) => n + statSync(join(stateDir, f)).size, 0),
    size: outcome.checkpoint?.size,
    error: outcome.error,
    findings: [...new Set(outcome.report?.findings.map((f) => f.kind))],
  }),
);
