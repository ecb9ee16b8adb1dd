import { SERVER, TOKEN, VENDOR_KEY, print } from './common-options.js';
import { inputFile } from './files.js';
import { command } from './spec.js';
import { serverUrl } from './validate.js';
import { UsageError } from './errors.js';

const ACTIONS = ['pause', 'resume', 'advance'] as const;

export const rollout = command({
  name: 'rollout',
  summary:
    'pause, resume or advance a staged release for everyone at one tick, by new vendor-signed metadata',
  who: 'vendor',
  positionals: [
    { name: 'ACTION', description: 'pause, resume or advance' },
    { name: 'VENDOR', description: 'the vendor' },
    { name: 'VERSION', description: 'the staged patch version, e.g. 2.4.1' },
  ],
  options: {
    server: SERVER,
    key: VENDOR_KEY,
    token: TOKEN,
    product: { type: 'string', arg: 'P', description: 'the staged product (required)' },
    at: {
      type: 'string',
      arg: 'WHEN',
      description:
        'when it takes effect: YYYY-MM-DDTHH:MM:SSZ or +<n>s|m|h|d (default +1m; at least the lead time ahead)',
    },
  },
  examples: [
    'fairpatch rollout pause acme 2.4.1 --product acme-agent --server http://127.0.0.1:8080 --key keys/acme.key --token "$FAIRPATCH_TOKEN"',
  ],
  async run({ values, positionals }) {
    const [action, vendor, version] = positionals as [string, string, string];
    if (!(ACTIONS as readonly string[]).includes(action))
      throw new UsageError(
        `ACTION must be one of ${ACTIONS.join(', ')}, not ${JSON.stringify(action)}`,
      );
    if (values.product === undefined) throw new UsageError('--product is required');
    const [{ readPrivateKey }, { PublisherClient, rolloutAction }, { resolveReleaseAt }] =
      await Promise.all([
        import('../keys/key-files.js'),
        import('../publish/client.js'),
        import('../publish/manifest.js'),
      ]);
    const client = new PublisherClient(serverUrl(values.server), values.token);
    const vendorKey = readPrivateKey(inputFile(values.key, '--key'));
    const result = await rolloutAction({
      vendor,
      product: values.product,
      version,
      action: action as (typeof ACTIONS)[number],
      releaseAt: resolveReleaseAt(values.at ?? '+1m', Date.now()),
      client,
      vendorKey,
      now: Date.now,
    });
    print(result);
    console.error(
      `${action} of ${values.product} ${version} (${vendor} metadata version ${result.version}); effective from ${result.activatesAt}, tick ${result.activationTick}, for every group`,
    );
  },
});
