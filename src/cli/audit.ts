import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Envelope, RootSigned } from '../tuf/metadata.js';
import { SERVER } from './common-options.js';
import { EXIT } from './exit-codes.js';
import { inputFile } from './files.js';
import { command } from './spec.js';
import { positiveInt, serverUrl } from './validate.js';

export const audit = command({
  name: 'audit',
  summary: 'verify the transparency log and receipts and judge fairness',
  who: 'auditor',
  options: {
    server: SERVER,
    state: { type: 'string', arg: 'DIR', default: '.fairpatch-audit', description: 'where the last verified checkpoint is kept between runs' },
    'log-key': { type: 'string', arg: 'FILE', default: 'keys/log.vkey', description: "the log's verifier key, pinned out of band" },
    root: { type: 'string', arg: 'FILE', default: 'keys/1.root.json', description: 'a trusted TUF root' },
    json: { type: 'string', arg: 'FILE', description: 'write the report as JSON' },
    html: { type: 'string', arg: 'FILE', description: 'write the report as HTML' },
    'max-staleness-ms': { type: 'string', arg: 'N', default: '5000', description: 'receipt staleness above this many ms is a finding' },
  },
  examples: ['fairpatch audit --server http://127.0.0.1:8080 --log-key keys/log.vkey --root keys/1.root.json --json report.json --html report.html'],
  notes: [`Exit status: ${EXIT.OK} FAIR, ${EXIT.FAILED} UNFAIR (with evidence), ${EXIT.CANNOT_VERIFY} cannot verify, ${EXIT.USAGE} usage error.`],
  async run({ values }) {
    const server = serverUrl(values.server);
    const [{ renderReportHtml }, { runAudit }, { parseJson }, { parseRoot }] = await Promise.all([import('../audit/html.js'), import('../audit/run.js'), import('../tuf/canonical.js'), import('../tuf/schema.js')]);
    const maxStalenessMs = positiveInt(values['max-staleness-ms'], '--max-staleness-ms')!;
    const root = parseRoot(parseJson(readFileSync(inputFile(values.root, '--root')), 'METADATA_INVALID')) as Envelope<RootSigned>;
    const logKey = readFileSync(inputFile(values['log-key'], '--log-key'), 'utf8').trim();
    const outcome = await runAudit({
      server,
      stateDir: resolve(values.state),
      logKey,
      root,
      now: Date.now(),
      options: { maxStalenessMs },
    });
    const { report } = outcome;
    if (!report) {
      console.error(`CANNOT VERIFY: ${outcome.error}`);
      return EXIT.CANNOT_VERIFY;
    }
    if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2) + '\n');
    if (values.html) writeFileSync(values.html, await renderReportHtml(report, 'fairpatch audit', `Audit of ${server} at ${new Date().toISOString()}, log size ${report.logSize}.`));
    console.log(`${report.verdict}  (log size ${report.logSize}, ${report.releases.length} releases, ${Object.keys(report.groups).length} groups)`);
    for (const r of report.releases) {
      const worst = Object.entries(r.groups).sort(([, a], [, b]) => b.firstDeliveryMs - a.firstDeliveryMs)[0];
      console.log(`  ${r.id}: activation ${r.activation ? `${new Date(r.activation.tickStart).toISOString()} (tick ${r.activation.tick}, +${r.activation.delayMs} ms)` : 'pending'}; groups ${Object.keys(r.groups).length}; equity gap ${r.equityGapMs ?? '-'} ms${worst ? ` (slowest ${worst[0]})` : ''}`);
    }
    for (const f of report.findings) console.log(`  ${f.unfair ? 'UNFAIR' : 'note'} ${f.kind}${f.group ? ` [${f.group}]` : ''}: ${f.message}`);
    return outcome.exitCode;
  },
});
