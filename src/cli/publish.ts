import { SERVER, TOKEN, VENDOR_KEY, print } from './common-options.js';
import { inputFile } from './files.js';
import { command } from './spec.js';
import { serverUrl } from './validate.js';

export const publish = command({
  name: 'publish',
  summary:
    'hash the artifacts, sign the next vendor metadata locally, upload artifacts then metadata',
  who: 'vendor',
  positionals: [
    { name: 'MANIFEST', description: 'the patch manifest, as manifests/schema.json describes it' },
  ],
  options: {
    server: SERVER,
    key: VENDOR_KEY,
    token: TOKEN,
    embargo: {
      type: 'string',
      arg: 'ID',
      description:
        "stage into this embargo: the manifest's release_at is replaced by the embargo's",
    },
    stages: {
      type: 'string',
      arg: 'LIST',
      description:
        "a staged rollout, e.g. 1%,10%@1h,100%@6h: share of agents and delay after the release tick (replaces the manifest's rollout.stages)",
    },
  },
  examples: [
    'fairpatch publish manifests/acme-agent-2.4.1.json --server http://127.0.0.1:8080 --key keys/acme.key --token "$FAIRPATCH_TOKEN"',
    'fairpatch publish manifests/acme-agent-2.4.1.json --embargo CVE-2026-4242 --server http://127.0.0.1:8080 --key keys/acme.key --token "$FAIRPATCH_TOKEN"',
  ],
  notes: ['Prints the result as JSON on stdout and one summary line on stderr.'],
  async run({ values, positionals }) {
    const [{ readPrivateKey }, { PublisherClient, publishManifest }, { parseStagesFlag }] =
      await Promise.all([
        import('../keys/key-files.js'),
        import('../publish/client.js'),
        import('../rollout/plan.js'),
      ]);
    // A malformed --stages is refused before any key is read or byte is sent.
    const stages = values.stages === undefined ? undefined : parseStagesFlag(values.stages);
    const client = new PublisherClient(serverUrl(values.server), values.token);
    const manifestPath = inputFile(positionals[0]!, 'manifest');
    const vendorKey = readPrivateKey(inputFile(values.key, '--key'));
    // A progress bar only for a person at a terminal; logs and pipes get the one summary line.
    const bar = process.stderr.isTTY
      ? (name: string, sent: number, total: number) => {
          const width = 30;
          const done = Math.round((width * sent) / Math.max(1, total));
          process.stderr.write(
            `\r${name} [${'#'.repeat(done)}${' '.repeat(width - done)}] ${Math.round((100 * sent) / Math.max(1, total))}% of ${(total / 1e6).toFixed(1)} MB${sent >= total ? '\n' : ''}`,
          );
        }
      : undefined;
    const result = await publishManifest({
      manifestPath,
      client,
      vendorKey,
      now: Date.now,
      ...(values.embargo !== undefined ? { embargo: values.embargo } : {}),
      ...(stages ? { stages } : {}),
      ...(bar ? { progress: bar } : {}),
    });
    print(result);
    console.error(
      `published ${result.product} ${result.productVersion} (${result.vendor} metadata version ${result.version}); live from ${result.activatesAt}, tick ${result.activationTick}${result.rollout ? `; staged: ${result.rollout}` : ''}${result.advisory ? `; with advisory ${result.advisory.id}` : ''}`,
    );
  },
});
