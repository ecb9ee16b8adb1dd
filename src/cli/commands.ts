import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { readPrivateKey } from '../keys/key-files.js';
import { type OnlineRole, ONLINE_ROLES, generateRepositoryKeys, generateVendorKey, rotateLogKey, rotateRoot } from '../keys/keygen.js';
import { buildRotationRequest, buildVendorRequest, registrationBody, rotationBody } from '../publish/build.js';
import { type RotationRequest, type VendorRequest, readRequest } from '../publish/request.js';
import { keyIdOf } from '../tuf/keys.js';
import { parseWith, vendorName } from '../tuf/schema.js';
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

const VENDOR_USAGE = `usage:
  fairpatch vendor request --key FILE [--name NAME] [--out FILE]                       (vendor: registration request)
  fairpatch vendor request --rotate --key NEW_FILE --server URL --token VENDOR_TOKEN [--name NAME] [--out FILE]
  fairpatch vendor add --request FILE --server URL --token OPERATOR_TOKEN [--keys DIR]  (operator)
  fairpatch vendor rotate --request FILE --server URL --token OPERATOR_TOKEN [--keys DIR]`;

/**
 * `fairpatch vendor`: the vendor signs a request with its own key; the operator delegates to the key
 * in it with the targets key. Neither side ever holds the other's private key.
 */
export async function vendorCommand(argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, {
    keys: { type: 'string' },
    server: { type: 'string' },
    token: { type: 'string' },
    key: { type: 'string' },
    name: { type: 'string' },
    out: { type: 'string' },
    request: { type: 'string' },
    rotate: { type: 'boolean' },
  });
  const [action, named] = positionals;
  if (action === 'request') return vendorRequest(values);
  if (!(action === 'add' || action === 'rotate') || !values.request) throw new FairpatchError('BAD_REQUEST', VENDOR_USAGE);
  const client = new PublisherClient(required(values.server, '--server'), tokenOf(values.token));
  const targetsKey = readPrivateKey(join(keysDirOf(values.keys), 'targets.key'));
  const previousTop = await latestTopTargets(client);
  const request = readRequest(resolve(values.request), action === 'add' ? 'initial' : 'metadata');
  if (named && named !== request.name) throw new FairpatchError('BAD_REQUEST', `the request is for vendor ${request.name}, not ${named}`);
  if (action === 'add') return print(await client.postJson('/vendors', registrationBody(request as VendorRequest, targetsKey, previousTop, Date.now())));
  if (!previousTop) throw new FairpatchError('NOT_FOUND', 'the server has no top-level targets yet');
  print(await client.postJson(`/vendors/${request.name}/key`, rotationBody(request as RotationRequest, targetsKey, previousTop, Date.now())));
}

async function vendorRequest(values: { key?: string; name?: string; out?: string; rotate?: boolean; server?: string; token?: string }): Promise<void> {
  const keyPath = resolve(required(values.key, '--key'));
  const name = parseWith(vendorName, values.name ?? basename(keyPath).replace(/\.key$/, ''), 'BAD_REQUEST');
  const key = readPrivateKey(keyPath);
  let request: VendorRequest | RotationRequest;
  if (values.rotate) {
    // The new key re-signs the vendor's current targets; the vendor reads them with its own token.
    const client = new PublisherClient(required(values.server, '--server'), tokenOf(values.token));
    request = buildRotationRequest({ name, newKey: key, previous: (await client.latestVendorMetadata(name)).signed, now: Date.now() });
  } else {
    request = buildVendorRequest({ name, vendorKey: key, now: Date.now() });
  }
  if (!values.out) return print(request);
  writeFileSync(values.out, JSON.stringify(request, null, 2) + '\n');
  print({ vendor: name, request: resolve(values.out), keyid: keyIdOf(request.public_key), next: `send ${values.out} to the operator; the private key stays with you` });
}

async function latestTopTargets(client: PublisherClient): Promise<TargetsSigned | undefined> {
  try {
    return ((await client.request('GET', '/top-targets/latest')) as Envelope<TargetsSigned>).signed;
  } catch (error) {
    if (error instanceof FairpatchError && error.code === 'NOT_FOUND') return undefined;
    throw error;
  }
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
    await client.postJson('/root', JSON.parse(readFileSync(result.path, 'utf8')));
  }
  print(result);
}

