import { SERVER, TOKEN, VENDOR_KEY, print } from './common-options.js';
import { inputFile } from './files.js';
import { command } from './spec.js';
import { serverUrl } from './validate.js';

export const halt = command({
  name: 'halt',
  summary: 'withdraw a patch version for everyone at one tick, by new vendor-signed metadata',
  who: 'vendor',
  positionals: [
    { name: 'VENDOR', description: 'the vendor' },
    { name: 'VERSION', description: 'the patch version to withdraw, e.g. 2.4.1' },
  ],
  options: {
    server: SERVER,
    key: VENDOR_KEY,
    token: TOKEN,
    product: {
      type: 'string',
      arg: 'P',
      description: 'only this product (default: every product with that version)',
    },
  },
  examples: [
    'fairpatch halt acme 2.4.1 --product acme-agent --server http://127.0.0.1:8080 --key keys/acme.key --token "$FAIRPATCH_TOKEN"',
  ],
  async run({ values, positionals }) {
    const [vendor, version] = positionals as [string, string];
    const [{ readPrivateKey }, { PublisherClient, haltRelease }] = await Promise.all([
      import('../keys/key-files.js'),
      import('../publish/client.js'),
    ]);
    const client = new PublisherClient(serverUrl(values.server), values.token);
    const vendorKey = readPrivateKey(inputFile(values.key, '--key'));
    const result = await haltRelease({
      vendor,
      version,
      ...(values.product ? { product: values.product } : {}),
      client,
      vendorKey,
      now: Date.now,
    });
    print(result);
    console.error(
      `halted ${values.product ?? vendor} ${version} (${result.removed.length} targets, ${vendor} metadata version ${result.version}); withdrawn from ${result.activatesAt}, tick ${result.activationTick}`,
    );
  },
});
