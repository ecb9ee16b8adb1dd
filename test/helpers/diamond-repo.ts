import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type DelegatedRole,
  type Envelope,
  type SnapshotSigned,
  type TargetsSigned,
  SPEC_VERSION,
  envelopeBytes,
  metaFile,
  sha256Hex,
  signEnvelope,
} from '../../src/tuf/metadata.js';
import { type KeyPair, generateKeyPair, tufKey } from '../../src/tuf/keys.js';

// The tuf-conformance suite's test_cached_role_is_verified_against_current_delegator, as a static
// repository on 127.0.0.1: targets delegates team-a/* to parent-a and team-b/* to parent-b; each
// delegates its paths to the same role, "release", but with a key of its own, and release.json is
// signed with parent-a's key only. team-a/trusted_root.json is genuine (reached through parent-a);
// team-b/trusted_root.json is not, since parent-b's key for release never signed it. A client that
// reuses the release role it verified for the first name, without checking it against parent-b,
// serves the second.

export const GENUINE = { path: 'team-a/trusted_root.json', bytes: 'trusted A' };
export const FORGED = { path: 'team-b/trusted_root.json', bytes: 'malicious B' };

const EXPIRES = '2100-01-01T00:00:00Z';

export interface DiamondRepository {
  url: string;
  /** The trusted root, for the client's metadata directory. */
  rootBytes: Buffer;
  close(): Promise<void>;
}

const role = (name: string, key: KeyPair, paths: string[]): DelegatedRole => ({
  name,
  keyids: [key.keyid],
  threshold: 1,
  terminating: false,
  paths,
});

function targets(
  targetFiles: TargetsSigned['targets'],
  delegations?: { keys: KeyPair[]; roles: DelegatedRole[] },
): TargetsSigned {
  return {
    _type: 'targets',
    spec_version: SPEC_VERSION,
    version: 1,
    expires: EXPIRES,
    targets: targetFiles,
    ...(delegations
      ? {
          delegations: {
            keys: Object.fromEntries(delegations.keys.map((k) => [k.keyid, tufKey(k.publicKey)])),
            roles: delegations.roles,
          },
        }
      : {}),
  };
}

const bytesOf = (envelope: Envelope<unknown>): Buffer => envelopeBytes(envelope);

/** Builds, signs and serves the repository (metadata under /metadata, targets under /targets). */
export async function serveDiamondRepository(): Promise<DiamondRepository> {
  const [root, top, snapshot, timestamp, parentA, parentB, releaseA, releaseB] = Array.from(
    { length: 8 },
    generateKeyPair,
  ) as [KeyPair, KeyPair, KeyPair, KeyPair, KeyPair, KeyPair, KeyPair, KeyPair];
  const topLevel = { root, targets: top, snapshot, timestamp };
  const rootBytes = bytesOf(
    signEnvelope(
      {
        _type: 'root',
        spec_version: SPEC_VERSION,
        version: 1,
        expires: EXPIRES,
        consistent_snapshot: false,
        keys: Object.fromEntries(
          Object.values(topLevel).map((k) => [k.keyid, tufKey(k.publicKey)]),
        ),
        roles: Object.fromEntries(
          Object.entries(topLevel).map(([name, k]) => [name, { keyids: [k.keyid], threshold: 1 }]),
        ) as Record<
          'root' | 'targets' | 'snapshot' | 'timestamp',
          { keyids: string[]; threshold: number }
        >,
      },
      [root],
    ),
  );
  const artifact = (bytes: string) => ({
    length: Buffer.byteLength(bytes),
    hashes: { sha256: sha256Hex(Buffer.from(bytes)) },
  });
  const roles: Record<string, Buffer> = {
    targets: bytesOf(
      signEnvelope(
        targets(
          {},
          {
            keys: [parentA, parentB],
            roles: [
              role('parent-a', parentA, ['team-a/*']),
              role('parent-b', parentB, ['team-b/*']),
            ],
          },
        ),
        [top],
      ),
    ),
    'parent-a': bytesOf(
      signEnvelope(
        targets({}, { keys: [releaseA], roles: [role('release', releaseA, ['team-a/*'])] }),
        [parentA],
      ),
    ),
    'parent-b': bytesOf(
      signEnvelope(
        targets({}, { keys: [releaseB], roles: [role('release', releaseB, ['team-b/*'])] }),
        [parentB],
      ),
    ),
    // Signed by parent-a's release key only.
    release: bytesOf(
      signEnvelope(
        targets({
          [GENUINE.path]: artifact(GENUINE.bytes),
          [FORGED.path]: artifact(FORGED.bytes),
        }),
        [releaseA],
      ),
    ),
  };
  const snapshotSigned: SnapshotSigned = {
    _type: 'snapshot',
    spec_version: SPEC_VERSION,
    version: 1,
    expires: EXPIRES,
    meta: Object.fromEntries(Object.keys(roles).map((name) => [`${name}.json`, { version: 1 }])),
  };
  const snapshotBytes = bytesOf(signEnvelope(snapshotSigned, [snapshot]));
  const timestampBytes = bytesOf(
    signEnvelope(
      {
        _type: 'timestamp',
        spec_version: SPEC_VERSION,
        version: 1,
        expires: EXPIRES,
        meta: { 'snapshot.json': metaFile(1, snapshotBytes) },
      },
      [timestamp],
    ),
  );
  const files = new Map<string, Buffer>([
    ['/metadata/1.root.json', rootBytes],
    ['/metadata/timestamp.json', timestampBytes],
    ['/metadata/snapshot.json', snapshotBytes],
    ...Object.entries(roles).map(([name, bytes]) => [`/metadata/${name}.json`, bytes] as const),
    [`/targets/${GENUINE.path}`, Buffer.from(GENUINE.bytes)],
    [`/targets/${FORGED.path}`, Buffer.from(FORGED.bytes)],
  ]);
  const server = createServer((req, res) => {
    const body = files.get(req.url ?? '');
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/octet-stream' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    rootBytes,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
