import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FairpatchError } from '../errors.js';
import { parseJson } from '../common/canonical.js';
import { type KeyPair, generateKeyPair, tufKey } from '../tuf/keys.js';
import { type Envelope, type RootSigned, envelopeBytes, signEnvelope } from '../tuf/metadata.js';
import { assertRootSuccessor, buildRoot, buildTopTargets } from '../tuf/roles.js';
import { parseRoot, parseWith, vendorName } from '../tuf/schema.js';
import { DAY_MS } from '../tuf/time.js';
import { parseVerifierKey, verifierKey } from '../log/note.js';
import {
  listRootFiles,
  readPrivateKey,
  readPublicKey,
  readRootKeys,
  writeKeyPair,
} from './key-files.js';

export const ONLINE_ROLES = ['targets', 'snapshot', 'timestamp'] as const;
export type OnlineRole = (typeof ONLINE_ROLES)[number];
const ROOT_LIFETIME_MS = 365 * DAY_MS;

export interface KeygenOptions {
  dir: string;
  now: number;
  /** Root keys n and threshold k (k-of-n). Default 1-of-1. */
  rootKeys?: number;
  rootThreshold?: number;
  /** The log's origin line and note key name. */
  logName?: string;
}

export const DEFAULT_LOG_NAME = 'fairpatch.dev/log';

const rootKeyName = (pair: KeyPair): string => `root-${pair.keyid.slice(0, 16)}`;

/**
 * Creates a new repository's keys: k-of-n root, targets, snapshot, timestamp and log, and writes
 * the trusted `1.root.json` that agents are given. Refuses to run over existing keys.
 */
export function generateRepositoryKeys(options: KeygenOptions): { rootPath: string } {
  const { dir, now, rootKeys = 1, rootThreshold = 1 } = options;
  if (listRootFiles(dir).length > 0) {
    throw new FairpatchError(
      'ALREADY_EXISTS',
      `${dir} already holds root metadata; keys are never overwritten`,
    );
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const root = Array.from({ length: rootKeys }, generateKeyPair);
  for (const pair of root) writeKeyPair(dir, rootKeyName(pair), pair);
  const online = Object.fromEntries(
    ONLINE_ROLES.map((role) => {
      const pair = generateKeyPair();
      writeKeyPair(dir, role, pair);
      return [role, pair];
    }),
  ) as Record<OnlineRole, KeyPair>;
  const log = generateKeyPair();
  writeKeyPair(dir, 'log', log);
  // The verifier key auditors pin: C2SP note key `name+keyid+key`; the name is the log's origin.
  writeFileSync(
    join(dir, 'log.vkey'),
    verifierKey(options.logName ?? DEFAULT_LOG_NAME, log.publicKey) + '\n',
  );
  const signed = buildRoot(1, now + ROOT_LIFETIME_MS, {
    root: { keys: root, threshold: rootThreshold },
    ...online,
  });
  const rootPath = join(dir, '1.root.json');
  writeFileSync(rootPath, envelopeBytes(signEnvelope(signed, root)));
  // TUF clients need top-level targets from the first tick on; it delegates to no vendor yet.
  writeFileSync(
    join(dir, '1.targets.json'),
    envelopeBytes(signEnvelope(buildTopTargets(1, now + ROOT_LIFETIME_MS, []), [online.targets])),
  );
  return { rootPath };
}

/** A vendor's own key pair: the vendor keeps `<vendor>.key`, the operator registers `<vendor>.pub`. */
export function generateVendorKey(dir: string, vendor: string): KeyPair {
  // The name becomes a file name: `../evil` must not write outside the keys directory.
  parseWith(vendorName, vendor, 'BAD_REQUEST');
  if (existsSync(join(dir, `${vendor}.key`)))
    throw new FairpatchError('ALREADY_EXISTS', `${vendor}.key already exists in ${dir}`);
  const pair = generateKeyPair();
  writeKeyPair(dir, vendor, pair);
  return pair;
}

export function readLatestRoot(dir: string): Envelope<RootSigned> {
  const latest = listRootFiles(dir).at(-1);
  if (!latest)
    throw new FairpatchError('NOT_FOUND', `no <N>.root.json in ${dir}; run fairpatch keygen first`);
  return parseRoot(parseJson(readFileSync(latest.path), 'METADATA_INVALID'));
}

export interface RotateOptions {
  dir: string;
  now: number;
  /** New root key count and threshold; when given, a fresh set of root keys is generated. */
  rootKeys?: number;
  rootThreshold?: number;
  /** Online roles whose keys are replaced by new ones. */
  rotate?: readonly OnlineRole[];
}

/**
 * Writes `<N+1>.root.json`, signed by a threshold of the old root keys and of the new ones
 * (TUF spec 5.3.4), so a client that trusts N walks to N+1 without manual steps.
 */
export function rotateRoot(options: RotateOptions): { path: string; version: number } {
  const { dir, now, rotate = [] } = options;
  const current = readLatestRoot(dir).signed;
  const available = readRootKeys(dir);
  const oldRootKeys = current.roles.root.keyids
    .map((id) => available.get(id))
    .filter((k): k is KeyPair => k !== undefined);
  if (oldRootKeys.length < current.roles.root.threshold) {
    throw new FairpatchError(
      'FORBIDDEN',
      `only ${oldRootKeys.length} of the ${current.roles.root.threshold} root keys needed are in ${dir}`,
    );
  }
  const newRoot = options.rootKeys
    ? Array.from({ length: options.rootKeys }, generateKeyPair)
    : oldRootKeys;
  if (options.rootKeys) for (const pair of newRoot) writeKeyPair(dir, rootKeyName(pair), pair);
  const online = Object.fromEntries(
    ONLINE_ROLES.map((role) => {
      if (!rotate.includes(role)) return [role, readPublicKey(join(dir, `${role}.pub`))];
      const pair = generateKeyPair();
      // The old online key is kept beside the new one until the server has switched.
      writeKeyPair(dir, `${role}-v${current.version + 1}`, pair);
      return [role, tufKey(pair.publicKey)];
    }),
  ) as Record<OnlineRole, ReturnType<typeof tufKey>>;
  const threshold =
    options.rootThreshold ??
    (options.rootKeys
      ? Math.min(options.rootKeys, current.roles.root.threshold)
      : current.roles.root.threshold);
  const signed = buildRoot(current.version + 1, now + ROOT_LIFETIME_MS, {
    root: { keys: newRoot, threshold },
    ...online,
  });
  const envelope = signEnvelope(signed, [...oldRootKeys, ...newRoot]);
  assertRootSuccessor(current, envelope);
  const path = join(dir, `${signed.version}.root.json`);
  writeFileSync(path, envelopeBytes(envelope));
  return { path, version: signed.version };
}

/**
 * The online keys the server signs with, as named by the newest root: for each role the key file
 * (`<role>.key` or a rotated `<role>-vN.key`) whose keyid the root lists.
 */
export function readOnlineKeys(
  dir: string,
  root: RootSigned,
): Record<OnlineRole, KeyPair> & { log: KeyPair } {
  const result: Partial<Record<OnlineRole, KeyPair>> = {};
  for (const role of ONLINE_ROLES) {
    const wanted = root.roles[role].keyids[0];
    const candidates = [
      `${role}.key`,
      ...Array.from({ length: root.version }, (_, i) => `${role}-v${root.version - i}.key`),
    ];
    for (const file of candidates) {
      if (!existsSync(join(dir, file))) continue;
      const pair = readPrivateKey(join(dir, file));
      if (pair.keyid === wanted) {
        result[role] = pair;
        break;
      }
    }
    if (!result[role])
      throw new FairpatchError(
        'NOT_FOUND',
        `no key file in ${dir} matches the ${role} key of root ${root.version} (keyid ${wanted}): copy the ${role}.key or ${role}-vN.key file with that keyid from the keys directory where fairpatch root rotate ran into ${dir}`,
      );
  }
  return { ...(result as Record<OnlineRole, KeyPair>), log: readPrivateKey(join(dir, 'log.key')) };
}

/** The log's signing key and its pinned verifier key, which must belong together. */
export function readLogKey(
  dir: string,
  name = 'log',
): { name: string; key: KeyPair; vkey: string } {
  const key = readPrivateKey(join(dir, `${name}.key`));
  const vkey = readFileSync(join(dir, `${name}.vkey`), 'utf8').trim();
  const verifier = parseVerifierKey(vkey);
  if (!Buffer.from(verifier.publicKey).equals(Buffer.from(key.publicKey)))
    throw new FairpatchError('BAD_REQUEST', `${name}.vkey does not match ${name}.key`);
  return { name: verifier.name, key, vkey };
}

/**
 * Log key rotation, step 1: a new key beside the old one (`log-next.*`). Nodes started with both
 * announce it in the log and co-sign checkpoints; step 2 (`promote`) makes it the only key.
 */
export function rotateLogKey(dir: string, step: 'begin' | 'promote'): { vkey: string } {
  const current = readLogKey(dir);
  if (step === 'begin') {
    if (existsSync(join(dir, 'log-next.key')))
      throw new FairpatchError('ALREADY_EXISTS', 'a log key rotation is already under way');
    const next = generateKeyPair();
    writeKeyPair(dir, 'log-next', next);
    const vkey = verifierKey(current.name, next.publicKey);
    writeFileSync(join(dir, 'log-next.vkey'), vkey + '\n');
    return { vkey };
  }
  const next = readLogKey(dir, 'log-next');
  for (const ext of ['key', 'pub', 'vkey'])
    renameSync(
      join(dir, `log.${ext}`),
      join(dir, `log-retired-${current.key.keyid.slice(0, 16)}.${ext}`),
    );
  for (const ext of ['key', 'pub', 'vkey'])
    renameSync(join(dir, `log-next.${ext}`), join(dir, `log.${ext}`));
  return { vkey: next.vkey };
}
