import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readPrivateKey } from '../keys/key-files.js';
import { type OnlineRole, ONLINE_ROLES, generateRepositoryKeys, generateVendorKey, rotateLogKey, rotateRoot } from '../keys/keygen.js';
import { buildKeyRotation, buildRegistration } from '../publish/build.js';
import { PublisherClient, haltRelease, publishManifest } from '../publish/client.js';
import { FairpatchError } from '../errors.js';
import type { Envelope, TargetsSigned } from '../tuf/metadata.js';
import { args, positiveInt, required } from './args.js';

const keysDirOf = (value: string | undefined): string => resolve(value ?? 'keys');
const tokenOf = (value: string | undefined): string => required(value ?? process.env.FAIRPATCH_TOKEN, '--token (or FAIRPATCH_TOKEN)');
const print = (value: unknown): void => console.log(JSON.stringify(value, null, 2));

export async function keygenCommand(argv: string[]): Promise<void> {
  const { values } = args(argv, { keys: { type: 'string' }, vendor: { type: 'string' }, 'root-keys': { type: 'string' }, 'root-threshold': { type: 'string' } });
  const dir = keysDirOf(values.keys);
  if (values.vendor) {
    const pair = generateVendorKey(dir, values.vendor);
    return print({ vendor: values.vendor, keyid: pair.keyid, private: join(dir, `${values.vendor}.key`), public: join(dir, `${values.vendor}.pub`) });
  }
  const rootKeys = positiveInt(values['root-keys'], '--root-keys') ?? 1;
  const rootThreshold = positiveInt(values['root-threshold'], '--root-threshold') ?? 1;
  const { rootPath } = generateRepositoryKeys({ dir, now: Date.now(), rootKeys, rootThreshold });
  print({ keys: dir, root: rootPath, root_threshold: `${rootThreshold}-of-${rootKeys}`, log_verifier_key: readFileSync(join(dir, 'log.vkey'), 'utf8').trim() });
}

/** `fairpatch vendor add NAME --pub FILE --key VENDOR_KEY …`: the operator signs the delegation locally. */
export async function vendorCommand(argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, { keys: { type: 'string' }, server: { type: 'string' }, token: { type: 'string' }, 'vendor-key': { type: 'string' }, 'new-key': { type: 'string' } });
  const [action, name] = positionals;
  if (!(action === 'add' || action === 'rotate') || !name) {
    throw new FairpatchError('BAD_REQUEST', 'usage: fairpatch vendor add NAME --vendor-key FILE | vendor rotate NAME --new-key FILE; both with --server URL --token OPERATOR_TOKEN [--keys DIR]');
  }
  const dir = keysDirOf(values.keys);
  const client = new PublisherClient(required(values.server, '--server'), tokenOf(values.token));
  if (action === 'rotate') {
    // The new key re-signs the vendor's current targets; the targets key names it. Both switch at one tick.
    const newKey = readPrivateKey(resolve(required(values['new-key'], '--new-key')));
    const previousTop = ((await client.request('GET', '/top-targets/latest')) as Envelope<TargetsSigned>).signed;
    const previous = await client.latestVendorMetadata(name);
    const body = buildKeyRotation({ name, newKey, targetsKey: readPrivateKey(join(dir, 'targets.key')), previousTop, previous: previous.signed, now: Date.now() });
    return print(await client.postJson(`/vendors/${name}/key`, body));
  }
  // The vendor signs its empty first metadata; in a real deployment the vendor sends it with its public key.
  const vendorKey = readPrivateKey(resolve(values['vendor-key'] ?? join(dir, `${name}.key`)));
  let previousTop: TargetsSigned | undefined;
  try {
    previousTop = ((await client.request('GET', '/top-targets/latest')) as Envelope<TargetsSigned>).signed;
  } catch (error) {
    if (!(error instanceof FairpatchError && error.code === 'NOT_FOUND')) throw error;
  }
  const body = buildRegistration({ name, vendorKey, targetsKey: readPrivateKey(join(dir, 'targets.key')), previousTop, now: Date.now() });
  print(await client.postJson('/vendors', body));
}

export async function publishCommand(argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, { server: { type: 'string' }, key: { type: 'string' }, token: { type: 'string' } });
  const manifestPath = required(positionals[0], 'manifest path');
  const client = new PublisherClient(required(values.server, '--server'), tokenOf(values.token));
  print(await publishManifest({ manifestPath, client, vendorKey: readPrivateKey(required(values.key, '--key')), now: Date.now }));
}

export async function haltCommand(argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, { server: { type: 'string' }, key: { type: 'string' }, token: { type: 'string' }, product: { type: 'string' } });
  const [vendor, version] = positionals;
  if (!vendor || !version) throw new FairpatchError('BAD_REQUEST', 'usage: fairpatch halt VENDOR VERSION --server URL --key FILE --token T [--product P]');
  const client = new PublisherClient(required(values.server, '--server'), tokenOf(values.token));
  print(await haltRelease({ vendor, version, ...(values.product ? { product: values.product } : {}), client, vendorKey: readPrivateKey(required(values.key, '--key')), now: Date.now }));
}

/** `fairpatch log rotate begin|promote`: a new log key, announced in the log before it replaces the old one. */
export async function logCommand(argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, { keys: { type: 'string' } });
  const [action, step] = positionals;
  if (action !== 'rotate' || (step !== 'begin' && step !== 'promote')) {
    throw new FairpatchError('BAD_REQUEST', 'usage: fairpatch log rotate begin|promote [--keys DIR]  (restart the nodes after each step)');
  }
  print(rotateLogKey(keysDirOf(values.keys), step));
}

export async function rootCommand(argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, {
    keys: { type: 'string' },
    'root-keys': { type: 'string' },
    'root-threshold': { type: 'string' },
    rotate: { type: 'string' },
    server: { type: 'string' },
    token: { type: 'string' },
  });
  if (positionals[0] !== 'rotate') throw new FairpatchError('BAD_REQUEST', 'usage: fairpatch root rotate [--root-keys N --root-threshold K] [--rotate timestamp,snapshot,targets] [--server URL --token T]');
  const rotate = (values.rotate?.split(',').filter(Boolean) ?? []) as OnlineRole[];
  for (const role of rotate) if (!ONLINE_ROLES.includes(role)) throw new FairpatchError('BAD_REQUEST', `--rotate: ${role} is not one of ${ONLINE_ROLES.join(', ')}`);
  const rootKeys = positiveInt(values['root-keys'], '--root-keys');
  const rootThreshold = positiveInt(values['root-threshold'], '--root-threshold');
  const result = rotateRoot({ dir: keysDirOf(values.keys), now: Date.now(), rotate, ...(rootKeys ? { rootKeys } : {}), ...(rootThreshold ? { rootThreshold } : {}) });
  if (values.server) {
    const client = new PublisherClient(values.server, tokenOf(values.token));
    // The server says from when the new root is in effect (one lead time ahead at least).
    const served = (await client.postJson('/root', JSON.parse(readFileSync(result.path, 'utf8')))) as { activatesAt?: string };
    return print({ ...result, ...(served.activatesAt ? { activatesAt: served.activatesAt } : {}) });
  }
  print(result);
}

