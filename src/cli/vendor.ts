import { writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { VENDOR_PATTERN } from '../common/names.js';
import { FairpatchError } from '../errors.js';
import type { Envelope, TargetsSigned } from '../tuf/metadata.js';
import { KEYS, OPERATOR_TOKEN, SERVER, TOKEN, print } from './common-options.js';
import { UsageError } from './errors.js';
import { inputFile } from './files.js';
import { type Options, command } from './spec.js';
import { serverUrl } from './validate.js';

// A vendor's key never leaves the vendor: the vendor signs a request with it (`vendor request`), and
// the operator delegates to the public key in that request with the targets key (`vendor add`).

const load = () =>
  Promise.all([
    import('../keys/key-files.js'),
    import('../publish/build.js'),
    import('../publish/client.js'),
    import('../publish/request.js'),
    import('../tuf/keys.js'),
  ]).then(([keys, build, client, request, tuf]) => ({
    ...keys,
    ...build,
    ...client,
    ...request,
    ...tuf,
  }));

const targetsKey = async (keys: string) =>
  (await load()).readPrivateKey(
    inputFile(
      join(keys, 'targets.key'),
      '--keys',
      `the operator's targets key; run fairpatch keygen --keys ${keys} first`,
    ),
  );

type Client = InstanceType<Awaited<ReturnType<typeof load>>['PublisherClient']>;

async function latestTopTargets(client: Client): Promise<TargetsSigned | undefined> {
  try {
    return ((await client.request('GET', '/top-targets/latest')) as Envelope<TargetsSigned>).signed;
  } catch (error) {
    if (error instanceof FairpatchError && error.code === 'NOT_FOUND') return undefined;
    throw error;
  }
}

const request = command({
  name: 'request',
  summary:
    'sign a registration (or, with --rotate, a key rotation) request with your own key, for the operator',
  who: 'vendor',
  options: {
    key: {
      type: 'string',
      arg: 'FILE',
      required: true,
      description: 'your private key (the new one with --rotate); it stays with you',
    },
    name: {
      type: 'string',
      arg: 'NAME',
      description: 'your vendor name (default: the key file name without .key)',
    },
    out: {
      type: 'string',
      arg: 'FILE',
      description: 'write the request here (default: standard output)',
    },
    rotate: {
      type: 'boolean',
      description:
        'a key rotation: re-sign your current targets with the new key (needs --server and --token)',
    },
    server: { ...SERVER, required: false },
    token: { ...TOKEN, required: false, description: 'your publisher token (with --rotate)' },
  },
  examples: [
    'fairpatch vendor request --key keys/globex.key --out data/globex.request.json',
    'fairpatch vendor request --rotate --name globex --key keys/globex-2.key --server http://127.0.0.1:8080 --token "$TOKEN" --out data/globex.rotate.json',
  ],
  notes: [
    'The request holds your public key and metadata signed with your key: send it to the operator by any channel.',
  ],
  async run({ values }) {
    const { readPrivateKey, buildRotationRequest, buildVendorRequest, PublisherClient, keyIdOf } =
      await load();
    const keyPath = inputFile(values.key, '--key', 'fairpatch keygen --vendor NAME writes one');
    const name = values.name ?? basename(keyPath).replace(/\.key$/, '');
    if (!VENDOR_PATTERN.test(name))
      throw new UsageError(
        `--name ${name} is not a vendor name (lowercase letters, digits and dashes)`,
      );
    const key = readPrivateKey(keyPath);
    let body: ReturnType<typeof buildVendorRequest> | ReturnType<typeof buildRotationRequest>;
    if (values.rotate) {
      if (!values.server || !values.token)
        throw new UsageError(
          '--rotate needs --server and --token: the new key re-signs your current targets, read from the server',
        );
      const client = new PublisherClient(serverUrl(values.server), values.token);
      body = buildRotationRequest({
        name,
        newKey: key,
        previous: (await client.latestVendorMetadata(name)).signed,
        now: Date.now(),
      });
    } else {
      body = buildVendorRequest({ name, vendorKey: key, now: Date.now() });
    }
    if (!values.out) return print(body);
    writeFileSync(values.out, `${JSON.stringify(body, null, 2)}\n`);
    console.error(`wrote ${values.out}: send it to the operator; your private key stays with you`);
    print({ vendor: name, request: resolve(values.out), keyid: keyIdOf(body.public_key) });
  },
});

/** The options of the operator's commands that act on a request the vendor signed (`--request`). */
const operatorOnRequest = (request: string) =>
  ({
    request: { type: 'string', arg: 'FILE', required: true, description: request },
    server: SERVER,
    token: OPERATOR_TOKEN,
    keys: KEYS,
  }) as const satisfies Options;

const add = command({
  name: 'add',
  summary:
    "register a vendor from its signed request: delegate NAME/* to its key, print the vendor's token",
  who: 'operator',
  options: operatorOnRequest('the request the vendor signed (fairpatch vendor request)'),
  examples: [
    'fairpatch vendor add --request data/globex.request.json --server http://127.0.0.1:8080 --token "$(cat data/operator.token)" --keys keys',
  ],
  notes: [
    "The request's signature is checked before anything is signed: a request assembled from another key's signature is refused.",
  ],
  async run({ values }) {
    const { readRequest, registrationBody, PublisherClient } = await load();
    const vendorRequest = readRequest(
      inputFile(values.request, '--request', 'the vendor makes it with fairpatch vendor request'),
      'initial',
    );
    const client = new PublisherClient(serverUrl(values.server), values.token);
    const body = registrationBody(
      vendorRequest,
      await targetsKey(resolve(values.keys)),
      await latestTopTargets(client),
      Date.now(),
    );
    print(await client.postJson('/vendors', body));
  },
});

const rotate = command({
  name: 'rotate',
  summary: 'move a vendor to a new key from its signed rotation request; both switch at one tick',
  who: 'operator',
  options: operatorOnRequest(
    'the rotation request the vendor signed with its new key (fairpatch vendor request --rotate)',
  ),
  examples: [
    'fairpatch vendor rotate --request data/globex.rotate.json --server http://127.0.0.1:8080 --token "$(cat data/operator.token)"',
  ],
  notes: ['From the switch on, the old key is refused for new uploads at once.'],
  async run({ values }) {
    const { readRequest, rotationBody, PublisherClient } = await load();
    const rotation = readRequest(
      inputFile(
        values.request,
        '--request',
        'the vendor makes it with fairpatch vendor request --rotate',
      ),
      'metadata',
    );
    const client = new PublisherClient(serverUrl(values.server), values.token);
    const previousTop = await latestTopTargets(client);
    if (!previousTop)
      throw new FairpatchError('NOT_FOUND', 'the server has no top-level targets yet');
    print(
      await client.postJson(
        `/vendors/${rotation.name}/key`,
        rotationBody(rotation, await targetsKey(resolve(values.keys)), previousTop, Date.now()),
      ),
    );
  },
});

export const vendor = command({
  name: 'vendor',
  summary: 'register a vendor, or move it to a new key, from requests the vendor signs',
  who: 'vendor, operator',
  examples: [],
  subcommands: [request, add, rotate],
});
