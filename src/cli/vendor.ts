import { join, resolve } from 'node:path';
import { FairpatchError } from '../errors.js';
import type { Envelope, TargetsSigned } from '../tuf/metadata.js';
import { KEYS, OPERATOR_TOKEN, SERVER, print } from './common-options.js';
import { inputFile } from './files.js';
import { command } from './spec.js';
import { serverUrl } from './validate.js';

const load = () => Promise.all([import('../keys/key-files.js'), import('../publish/build.js'), import('../publish/client.js')]).then(([keys, build, client]) => ({ ...keys, ...build, ...client }));

const targetsKey = async (keys: string) => (await load()).readPrivateKey(inputFile(join(keys, 'targets.key'), '--keys', `the operator's targets key; run fairpatch keygen --keys ${keys} first`));

const add = command({
  name: 'add',
  summary: "register a vendor: sign its delegation locally with the targets key, print the vendor's token",
  who: 'operator',
  positionals: [{ name: 'NAME', description: 'the vendor name; its targets live under NAME/*' }],
  options: {
    server: SERVER,
    token: OPERATOR_TOKEN,
    keys: KEYS,
    'vendor-key': { type: 'string', arg: 'FILE', description: "the vendor's private key, for its empty first metadata (default KEYS/NAME.key)" },
  },
  examples: ['fairpatch vendor add acme --server http://127.0.0.1:8080 --token "$(cat data/operator.token)" --keys keys'],
  async run({ values, positionals }) {
    const { readPrivateKey, buildRegistration, PublisherClient } = await load();
    const name = positionals[0]!;
    const dir = resolve(values.keys);
    const client = new PublisherClient(serverUrl(values.server), values.token);
    // The vendor signs its empty first metadata; in a real deployment the vendor sends it with its public key.
    const vendorKey = readPrivateKey(inputFile(values['vendor-key'] ?? join(dir, `${name}.key`), '--vendor-key', `run fairpatch keygen --vendor ${name} first`));
    let previousTop: TargetsSigned | undefined;
    try {
      previousTop = ((await client.request('GET', '/top-targets/latest')) as Envelope<TargetsSigned>).signed;
    } catch (error) {
      if (!(error instanceof FairpatchError && error.code === 'NOT_FOUND')) throw error;
    }
    const body = buildRegistration({ name, vendorKey, targetsKey: await targetsKey(dir), previousTop, now: Date.now() });
    print(await client.postJson('/vendors', body));
  },
});

const rotate = command({
  name: 'rotate',
  summary: "replace a vendor's key: the new key re-signs its targets, both switch at one tick",
  who: 'operator with the vendor',
  positionals: [{ name: 'NAME', description: 'the vendor' }],
  options: {
    'new-key': { type: 'string', arg: 'FILE', required: true, description: "the vendor's new private key" },
    server: SERVER,
    token: OPERATOR_TOKEN,
    keys: KEYS,
  },
  examples: ['fairpatch vendor rotate acme --new-key keys/acme-2.key --server http://127.0.0.1:8080 --token "$(cat data/operator.token)"'],
  async run({ values, positionals }) {
    const { readPrivateKey, buildKeyRotation, PublisherClient } = await load();
    const name = positionals[0]!;
    const client = new PublisherClient(serverUrl(values.server), values.token);
    const newKey = readPrivateKey(inputFile(values['new-key'], '--new-key'));
    const key = await targetsKey(resolve(values.keys));
    // The new key re-signs the vendor's current targets; the targets key names it. Both switch at one tick.
    const previousTop = ((await client.request('GET', '/top-targets/latest')) as Envelope<TargetsSigned>).signed;
    const previous = await client.latestVendorMetadata(name);
    const body = buildKeyRotation({ name, newKey, targetsKey: key, previousTop, previous: previous.signed, now: Date.now() });
    print(await client.postJson(`/vendors/${name}/key`, body));
  },
});

export const vendor = command({
  name: 'vendor',
  summary: "add a vendor to the repository, or rotate a vendor's key",
  who: 'operator',
  examples: [],
  subcommands: [add, rotate],
});
