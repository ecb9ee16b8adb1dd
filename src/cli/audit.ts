import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { renderReportHtml } from '../audit/html.js';
import { runAudit } from '../audit/run.js';
import { parseJson } from '../tuf/canonical.js';
import type { Envelope, RootSigned } from '../tuf/metadata.js';
import { parseRoot } from '../tuf/schema.js';
import { args, positiveInt, required } from './args.js';

const USAGE = `fairpatch audit --server URL [--state DIR] [--log-key FILE] [--root FILE] [--json FILE] [--html FILE] [--max-staleness-ms N]
  exit 0 FAIR, 1 UNFAIR (with evidence), 2 could not verify`;

export async function auditCommand(argv: string[]): Promise<void> {
  const { values } = args(argv, {
    server: { type: 'string' },
    state: { type: 'string' },
    'log-key': { type: 'string' },
    root: { type: 'string' },
    json: { type: 'string' },
    html: { type: 'string' },
    'max-staleness-ms': { type: 'string' },
    help: { type: 'boolean' },
  });
  if (values.help) return void console.log(USAGE);
  const root = parseRoot(parseJson(readFileSync(resolve(values.root ?? 'keys/1.root.json')), 'METADATA_INVALID')) as Envelope<RootSigned>;
  const maxStalenessMs = positiveInt(values['max-staleness-ms'], '--max-staleness-ms');
  const outcome = await runAudit({
    server: required(values.server, '--server'),
    stateDir: resolve(values.state ?? '.fairpatch-audit'),
    logKey: readFileSync(resolve(values['log-key'] ?? 'keys/log.vkey'), 'utf8').trim(),
    root,
    now: Date.now(),
    ...(maxStalenessMs ? { options: { maxStalenessMs } } : {}),
  });
  const { report } = outcome;
  if (!report) {
    console.error(`CANNOT VERIFY: ${outcome.error}`);
    process.exitCode = 2;
    return;
  }
  if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2) + '\n');
  if (values.html) writeFileSync(values.html, await renderReportHtml(report, 'fairpatch audit', `Audit of ${values.server} at ${new Date().toISOString()}, log size ${report.logSize}.`));
  console.log(`${report.verdict}  (log size ${report.logSize}, ${report.releases.length} releases, ${Object.keys(report.groups).length} groups)`);
  for (const r of report.releases) {
    const worst = Object.entries(r.groups).sort(([, a], [, b]) => b.firstDeliveryMs - a.firstDeliveryMs)[0];
    console.log(`  ${r.id}: activation ${r.activation ? `tick ${r.activation.tick}, +${r.activation.delayMs} ms` : 'pending'}; groups ${Object.keys(r.groups).length}; equity gap ${r.equityGapMs ?? '-'} ms${worst ? ` (slowest ${worst[0]})` : ''}`);
  }
  for (const f of report.findings) console.log(`  ${f.unfair ? 'UNFAIR' : 'note'} ${f.kind}${f.group ? ` [${f.group}]` : ''}: ${f.message}`);
  process.exitCode = outcome.exitCode;
}
