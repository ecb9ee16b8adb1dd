import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { VENDOR_PATTERN } from '../common/names.js';
import { SERVER } from './common-options.js';
import { UsageError } from './errors.js';
import { EXIT } from './exit-codes.js';
import { inputFile } from './files.js';
import { enroll, id, receipts } from './agent-receipts.js';
import { command } from './spec.js';
import { parseWitnessTargets } from './witness-targets.js';
import { parseDuration, positiveInt, semverText, serverUrl } from './validate.js';

export const agent = command({
  name: 'agent',
  summary: 'poll, verify and install patches, keep receipts',
  who: 'customer machines',
  config: true,
  options: {
    server: {
      ...SERVER,
      multiple: true,
      description:
        'a repository node; give it again for more nodes, tried in order when one serves a stale statement',
    },
    'max-lag': {
      type: 'string',
      arg: 'DURATION',
      default: '10s',
      description:
        "a statement this far behind this machine's clock is stale: said, retried elsewhere, kept as signed testimony",
    },
    group: {
      type: 'string',
      arg: 'G',
      required: true,
      description: 'the customer group this machine belongs to, e.g. eu-west',
    },
    root: {
      type: 'string',
      arg: 'FILE',
      required: true,
      description: 'the trusted TUF root (copied into the state dir on first run)',
    },
    state: {
      type: 'string',
      arg: 'DIR',
      required: true,
      description: 'state directory: metadata, receipts, installed version',
    },
    product: {
      type: 'string',
      arg: 'VENDOR/PRODUCT',
      required: true,
      description: 'the product installed here and the vendor trusted for it, e.g. acme/acme-agent',
    },
    platform: {
      type: 'string',
      arg: 'X',
      required: true,
      description: "this machine's platform, e.g. linux-x64",
    },
    'current-version': {
      type: 'string',
      arg: 'V',
      required: true,
      description: 'the installed version (semver) before the first patch',
    },
    channel: { type: 'string', arg: 'C', default: 'stable', description: 'release channel' },
    interval: {
      type: 'string',
      arg: 'DURATION',
      default: '60s',
      description: 'poll interval (±10 % jitter) while the event stream is down',
    },
    install: {
      type: 'string',
      arg: 'CMD',
      description:
        'shell command that installs $FAIRPATCH_ARTIFACT (default: a verified download counts as installed)',
    },
    vendor: {
      type: 'string',
      arg: 'NAME',
      description: 'the vendor trusted for --product, when --product names no vendor',
    },
    once: { type: 'boolean', description: 'one poll, then exit' },
    json: {
      type: 'boolean',
      description:
        "with --once: print the poll's outcome as JSON on stdout (an installed fix's advisory: id, title, CVEs)",
    },
    witness: {
      type: 'string',
      arg: 'URL=FILE',
      multiple: true,
      description:
        'a witness every receipt is also delivered to, with its verifier key file (NAME.vkey); repeatable',
    },
    'witness-key': {
      type: 'string',
      arg: 'FILE',
      multiple: true,
      description: "a witness's verifier key, one per plain --witness URL in the same order",
    },
    'log-key': {
      type: 'string',
      arg: 'FILE',
      description:
        "the repository log's verifier key (keys/log.vkey): check the log checkpoint every --log-check interval and sign it into the receipt",
    },
    'witness-threshold': {
      type: 'string',
      arg: 'N',
      default: '0',
      description:
        'with --log-key: how many of the --witness keys must have cosigned the log checkpoint (C2SP tlog-cosignature); fewer is reported as a possible split view',
    },
    'log-check': {
      type: 'string',
      arg: 'DURATION',
      default: '60s',
      description: 'with --log-key: how often the log checkpoint is fetched and checked',
    },
    'self-update': {
      type: 'string',
      arg: 'DIR',
      description:
        "the fairpatch-agent executable only: update it from the repository's fairpatch/agent releases, kept in DIR (fairpatch-agent, fairpatch-agent.previous); exits 75 after a switch for the service manager to start the new one",
    },
    'self-test': {
      type: 'boolean',
      description:
        'check the settings and the state directory, print "healthy VERSION" and exit: what a self-update runs on a new executable before keeping it',
    },
  },
  examples: [
    'fairpatch agent --server http://127.0.0.1:8080 --group eu-west --root keys/1.root.json --state /tmp/agent --product acme/acme-agent --platform linux-x64 --current-version 2.3.0 --install examples/install.sh --once',
    'fairpatch agent --config agent.json',
  ],
  notes: [
    'Log lines start with an ISO time. With --once the exit status is 0 (installed or up to date), 1 (refused or install failed) or 69 (server unreachable or answering 5xx).',
    'With --log-key, a checkpoint not signed by that key, one contradicting a checkpoint seen before (SPLIT VIEW) or one with too few witness cosignatures (UNWITNESSED LOG) is said in the log; the checkpoint is signed into the receipt, where the auditor compares it with the log it verified.',
    'A receipt counts as delivered to a witness once the witness proves it in its log (an inclusion proof under a checkpoint its key signed); until then it is sent again each cycle.',
    'The install command gets FAIRPATCH_ARTIFACT, FAIRPATCH_ARTIFACTS, FAIRPATCH_VERSION, FAIRPATCH_PRODUCT, FAIRPATCH_CVES… in its environment.',
    'With --self-update, a new executable that does not print "healthy VERSION" within 30 s of its switch is renamed back over by the previous one, reported to the server as a failed install and not tried again; the running agent carries on.',
  ],
  subcommands: [receipts, id, enroll],
  async run({ values }) {
    const [{ Agent }, { systemClock }, { GROUP_PATTERN }, { agentVersion, isAgentExecutable }] =
      await Promise.all([
        import('../agent/agent.js'),
        import('../common/clock.js'),
        import('../common/names.js'),
        import('./agent-version.js'),
      ]);
    if (!GROUP_PATTERN.test(values.group))
      throw new UsageError(
        `--group ${values.group} is not a group name (lowercase letters, digits, '.', '_' and '-', e.g. eu-west)`,
      );
    const witnesses = parseWitnessTargets(values.witness, values['witness-key'], {
      keyRequired: true,
    }).map((w) => ({ url: w.url, vkey: w.vkey! }));
    const threshold =
      values['witness-threshold'] === '0'
        ? 0
        : positiveInt(values['witness-threshold'], '--witness-threshold')!;
    if (threshold > witnesses.length)
      throw new UsageError(
        `--witness-threshold ${threshold} needs at least ${threshold} --witness keys, not ${witnesses.length}`,
      );
    if (threshold > 0 && !values['log-key'])
      throw new UsageError(
        '--witness-threshold needs --log-key (the log whose checkpoints are cosigned)',
      );
    if (values['self-update'] && !isAgentExecutable())
      throw new UsageError(
        '--self-update: only the fairpatch-agent executable (npm run build:agent) updates itself; under node, update the checkout',
      );
    const agent = new Agent(
      {
        server: serverUrl(values.server.split(',')[0]!),
        servers: values.server
          .split(',')
          .slice(1)
          .map((s) => serverUrl(s)),
        maxLagMs: parseDuration(values['max-lag'], '--max-lag'),
        group: values.group,
        root: inputFile(
          values.root,
          '--root',
          'the trusted root the repository operator publishes, e.g. keys/1.root.json',
        ),
        stateDir: resolve(values.state),
        ...trustedProduct(values.product, values.vendor),
        platform: values.platform,
        currentVersion: semverText(values['current-version'], '--current-version'),
        channel: values.channel,
        intervalMs: parseDuration(values.interval, '--interval'),
        ...(values.install ? { install: values.install } : {}),
        witnesses,
        ...(values['self-update']
          ? {
              selfUpdate: {
                dir: resolve(values['self-update']),
                running: process.execPath,
                version: agentVersion(),
                platform: `${process.platform}-${process.arch}`,
                channel: values.channel,
                // The new executable checks this very command line (its settings, its state).
                healthArgs: [...process.argv.slice(2), '--self-test'],
              },
            }
          : {}),
        ...(values['log-key']
          ? {
              checkpoint: {
                logKey: readFileSync(inputFile(values['log-key'], '--log-key'), 'utf8').trim(),
                witnesses: witnesses.map((w) => w.vkey),
                threshold,
                everyMs: parseDuration(values['log-check'], '--log-check'),
              },
            }
          : {}),
      },
      {
        clock: systemClock,
        // A progress line on a terminal; quiet logs otherwise.
        fetcher: process.stderr.isTTY
          ? {
              onProgress: (url: string, got: number, total: number) =>
                process.stderr.write(
                  `\r${url.split('/').pop()?.slice(65)} ${Math.round((100 * got) / Math.max(1, total))}%`,
                ),
            }
          : {},
      },
    );
    if (values['self-test']) {
      // Everything a start needs has loaded and checked out: the settings, the state, the key.
      console.log(`healthy ${agentVersion()}`);
      return EXIT.OK;
    }
    if (values.once) {
      const result = await agent.cycle();
      if (values.json) console.log(JSON.stringify(result));
      if (agent.restart) return EXIT.RESTART;
      if (result.outcome === 'refused') return result.unreachable ? EXIT.UNAVAILABLE : EXIT.FAILED;
      return result.outcome === 'install-failed' ? EXIT.FAILED : EXIT.OK;
    }
    const stop = new AbortController();
    process.once('SIGINT', () => stop.abort());
    process.once('SIGTERM', () => stop.abort());
    await agent.run(stop.signal);
    return agent.restart ? EXIT.RESTART : EXIT.OK;
  },
});

/**
 * Which vendor the agent trusts for its product. Required: product names are unique only per vendor,
 * and searching every delegation would let any vendor offer a "patch" for another vendor's product.
 */
function trustedProduct(
  product: string,
  vendor: string | undefined,
): { vendor: string; product: string } {
  const slash = product.indexOf('/');
  const pair =
    slash >= 0
      ? { vendor: product.slice(0, slash), product: product.slice(slash + 1) }
      : { vendor: vendor ?? '', product };
  if (vendor && vendor !== pair.vendor)
    throw new UsageError(`--vendor ${vendor} and --product ${product} name different vendors`);
  if (!pair.vendor)
    throw new UsageError(
      `--product ${product}: name the vendor you trust for it, as --product VENDOR/${product} (or --vendor VENDOR)`,
    );
  if (!VENDOR_PATTERN.test(pair.vendor))
    throw new UsageError(
      `--product ${product}: ${pair.vendor} is not a vendor name (lowercase letters, digits and dashes)`,
    );
  return pair;
}
