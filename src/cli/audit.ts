import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Envelope, RootSigned } from '../tuf/metadata.js';
import { SERVER } from './common-options.js';
import { EXIT } from './exit-codes.js';
import { inputFile } from './files.js';
import { command } from './spec.js';
import { UsageError } from './errors.js';
import { failureCode } from '../net/errors.js';
import { parseDuration, positiveInt, serverUrl } from './validate.js';

export const audit = command({
  name: 'audit',
  summary: 'verify the transparency log and receipts and judge fairness',
  who: 'auditor',
  options: {
    server: SERVER,
    state: {
      type: 'string',
      arg: 'DIR',
      default: '.fairpatch-audit',
      description:
        'what the last run verified (checkpoint, tree edge, leaves): the next reads only new log tiles',
    },
    'log-key': {
      type: 'string',
      arg: 'FILE',
      default: 'keys/log.vkey',
      description: "the log's verifier key, pinned out of band",
    },
    root: {
      type: 'string',
      arg: 'FILE',
      default: 'keys/1.root.json',
      description: 'a trusted TUF root',
    },
    json: { type: 'string', arg: 'FILE', description: 'write the report as JSON' },
    html: { type: 'string', arg: 'FILE', description: 'write the report as HTML' },
    'max-lag': {
      type: 'string',
      arg: 'DURATION',
      default: '10s',
      description: 'a statement served this long after its tick started is stale',
    },
    'max-gap': {
      type: 'string',
      arg: 'DURATION',
      default: '10s',
      description:
        'a group still served without a release this long after its activation was withheld it',
    },
    quorum: {
      type: 'string',
      arg: 'N',
      default: '1',
      description:
        'distinct vouched agent keys whose testimony about one group convicts, where its owner set no quorum',
    },
    owners: {
      type: 'string',
      arg: 'FILE',
      description:
        'owner keys per group, {"group": {"keys": ["hex key"], "quorum": 1}}: agents they certified are vouched (wins over the operator\'s declaration)',
    },
    clients: {
      type: 'string',
      arg: 'FILE',
      description:
        'agent keys a group\'s owner vouches for directly, {"group": ["hex key", …]}: one of them is enough testimony',
    },
    receipts: {
      type: 'string',
      arg: 'FILE',
      multiple: true,
      description: 'more evidence: a file from fairpatch agent receipts export (repeatable)',
    },
    witness: {
      type: 'string',
      arg: 'URL[=FILE]',
      multiple: true,
      description:
        "more evidence: every receipt a witness logged (repeatable); =FILE pins the witness's verifier key",
    },
    'witness-key': {
      type: 'string',
      arg: 'FILE',
      multiple: true,
      description:
        "a witness's verifier key (NAME.vkey), one per --witness in the same order; without --witness, only a cosigner of the log's checkpoints",
    },
    'witness-threshold': {
      type: 'string',
      arg: 'N',
      default: '0',
      description:
        'how many of the given witness keys must have cosigned the served checkpoint (C2SP tlog-cosignature); fewer: cannot verify',
    },
  },
  examples: [
    'fairpatch audit --server http://127.0.0.1:8080 --log-key keys/log.vkey --root keys/1.root.json --json report.json --html report.html',
    'fairpatch audit --server https://patches.example --witness https://witness.example=w1.vkey',
  ],
  notes: [
    `Exit status: ${EXIT.OK} FAIR, ${EXIT.FAILED} UNFAIR (with evidence), ${EXIT.CANNOT_VERIFY} cannot verify, ${EXIT.USAGE} usage error.`,
  ],
  async run({ values }) {
    const server = serverUrl(values.server);
    const [{ renderReportHtml }, { runAudit }, { parseJson }, { parseRoot }] = await Promise.all([
      import('../audit/html.js'),
      import('../audit/run.js'),
      import('../common/canonical.js'),
      import('../tuf/schema.js'),
    ]);
    const { readEvidenceFiles, readOwners, readPinnedClients } = await import('./audit-inputs.js');
    const options = {
      maxLagMs: parseDuration(values['max-lag'], '--max-lag'),
      maxGapMs: parseDuration(values['max-gap'], '--max-gap'),
      quorum: positiveInt(values.quorum, '--quorum')!,
      ...(values.clients
        ? { pinned: readPinnedClients(inputFile(values.clients, '--clients')) }
        : {}),
      ...(values.owners ? { owners: readOwners(inputFile(values.owners, '--owners')) } : {}),
    };
    const external = values.receipts
      ? readEvidenceFiles(values.receipts.split(',').map((f) => inputFile(f, '--receipts')))
      : [];
    const { parseWitnessTargets, readKeyFiles } = await import('./witness-targets.js');
    const witnesses = values.witness
      ? parseWitnessTargets(values.witness, values['witness-key'], { keyRequired: false })
      : [];
    const cosignerKeys = [
      ...new Set([
        ...witnesses.flatMap((w) => (w.vkey ? [w.vkey] : [])),
        ...(values.witness ? [] : readKeyFiles(values['witness-key'])),
      ]),
    ];
    const threshold =
      values['witness-threshold'] === '0'
        ? 0
        : positiveInt(values['witness-threshold'], '--witness-threshold')!;
    if (threshold > cosignerKeys.length)
      throw new UsageError(
        `--witness-threshold ${threshold} needs at least ${threshold} witness keys (--witness-key FILE), not ${cosignerKeys.length}`,
      );
    if (witnesses.length > 0) {
      const { fetchWitnessEvidence } = await import('../audit/witness.js');
      for (const w of witnesses) {
        try {
          external.push(await fetchWitnessEvidence(w.url, w.vkey));
        } catch (error) {
          // Evidence the auditor was told to use and could not check: never a FAIR without it.
          console.error(
            `CANNOT VERIFY: witness ${w.url}: ${(error as Error).message} [${failureCode(error)}]`,
          );
          return EXIT.CANNOT_VERIFY;
        }
      }
    }
    const root = parseRoot(
      parseJson(readFileSync(inputFile(values.root, '--root')), 'METADATA_INVALID'),
    ) as Envelope<RootSigned>;
    const logKey = readFileSync(inputFile(values['log-key'], '--log-key'), 'utf8').trim();
    const outcome = await runAudit({
      server,
      stateDir: resolve(values.state),
      logKey,
      root,
      now: Date.now(),
      options,
      external,
      ...(threshold > 0 ? { cosigners: { keys: cosignerKeys, threshold } } : {}),
      witnessLogs: witnesses.flatMap((w) => (w.vkey ? [{ url: w.url, vkey: w.vkey }] : [])),
    });
    const { report } = outcome;
    if (!report) {
      console.error(`CANNOT VERIFY: ${outcome.error} [${outcome.errorCode ?? 'INTERNAL'}]`);
      return EXIT.CANNOT_VERIFY;
    }
    if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2) + '\n');
    if (values.html)
      writeFileSync(
        values.html,
        await renderReportHtml(
          report,
          'fairpatch audit',
          `Audit of ${server} at ${new Date().toISOString()}, log size ${report.logSize}.`,
        ),
      );
    const { reportLines } = await import('../audit/text.js');
    for (const line of reportLines(report)) console.log(line);
    return outcome.exitCode;
  },
});
