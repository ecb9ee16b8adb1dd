import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { createReadStream } from 'node:fs';
import { readPrivateKey } from '../keys/key-files.js';
import { generateVendorKey } from '../keys/keygen.js';
import {
  buildRegistration,
  buildRelease,
  defaultArtifactName,
  type HashedArtifact,
} from '../publish/build.js';
import { hashFile } from '../publish/client.js';
import { advisoryTarget } from '../publish/advisory.js';
import { manifestSchema, resolveReleaseAt } from '../publish/manifest.js';
import { parseJson } from '../common/canonical.js';
import type { Envelope, TargetsSigned } from '../tuf/metadata.js';
import { parseWith } from '../tuf/schema.js';
import type { RepositoryStore } from '../release/store.js';
import type { FairpatchNode } from './node.js';

/**
 * First-run demo content for `npm start`: registers the example vendors (their keys generated
 * beside the repository's) and publishes every example manifest not yet published, through the
 * same validation as the publisher API. The manifests are templates a vendor can copy, so they
 * keep at least the lead time; a brand-new demo node has no other node that must hold a release
 * before its tick, so the seed brings each one forward by the lead time: "+30s" is out at once.
 */
export async function seedExamples(
  node: FairpatchNode,
  input: { manifestsDir: string; keysDir: string },
): Promise<Array<{ manifest: string; vendor: string; activatesAt: string; skipped: boolean }>> {
  const { repo, store, blobs } = node;
  const tokensFile = join(input.keysDir, 'tokens.json');
  const tokens: Record<string, string> = existsSync(tokensFile)
    ? (JSON.parse(readFileSync(tokensFile, 'utf8')) as Record<string, string>)
    : {};
  const files = existsSync(input.manifestsDir)
    ? readdirSync(input.manifestsDir)
        .filter((f) => f.endsWith('.json') && f !== 'schema.json')
        .sort()
    : [];
  const results = [];
  for (const file of files) {
    const path = join(input.manifestsDir, file);
    const manifest = parseWith(
      manifestSchema,
      parseJson(readFileSync(path), 'JSON_INVALID'),
      'MANIFEST_INVALID',
    );
    const vendor = manifest.vendor;
    const keyFile = join(input.keysDir, `${vendor}.key`);
    const vendorKey = existsSync(keyFile)
      ? readPrivateKey(keyFile)
      : generateVendorKey(input.keysDir, vendor);
    const now = repo.clock.now();
    if (!(await store.vendor(vendor))) {
      const previousTop = await store.latestTopTargets();
      const body = buildRegistration({
        name: vendor,
        vendorKey,
        targetsKey: readPrivateKey(join(input.keysDir, 'targets.key')),
        previousTop:
          previousTop && (JSON.parse(previousTop.bytes) as Envelope<TargetsSigned>).signed,
        now,
      });
      await repo.registerVendor(body, { effectiveAt: now });
      tokens[vendor] = await store.issueToken(vendor, now);
      writeFileSync(tokensFile, JSON.stringify(tokens, null, 2) + '\n', { mode: 0o600 });
    }
    const previous = (await store.latestVendorMetadata(vendor))?.signed;
    const artifacts: HashedArtifact[] = [];
    for (const a of manifest.artifacts) {
      const artifactPath = resolve(dirname(path), a.file);
      artifacts.push({
        platform: a.platform,
        name: a.name ?? defaultArtifactName(a.file),
        path: artifactPath,
        ...(await hashFile(artifactPath)),
      });
    }
    if (!previous || artifacts.some((a) => previous.targets[`${vendor}/${a.name}`])) {
      results.push({ manifest: basename(file), vendor, activatesAt: '', skipped: true });
      continue;
    }
    for (const a of artifacts) {
      if (!(await blobs.has(a.sha256)))
        await blobs.put(a.sha256, Readable.from(createReadStream(a.path)), a.length + 1);
      await store.recordBlob(vendor, a.sha256, a.length, now);
    }
    // Read the clock again: registration and blob writes above take time, and the release time
    // and the staging check below must use one and the same reading.
    const stagedAt = repo.clock.now();
    const releaseAt = Math.max(
      Math.ceil(stagedAt / 1000) * 1000,
      resolveReleaseAt(manifest.release_at, stagedAt) - repo.minLeadMs,
    );
    const envelope = buildRelease({
      manifest,
      artifacts,
      releaseAt,
      previous,
      vendorKey,
      now: stagedAt,
    });
    // The advisory's file, as `fairpatch publish` uploads it (the same bytes the metadata names).
    if (manifest.advisory) {
      const { bytes, info } = advisoryTarget({
        manifest,
        targets: envelope.signed.targets,
        releaseAt,
        vendorKey,
      });
      if (!(await blobs.has(info.hashes.sha256)))
        await blobs.put(info.hashes.sha256, Readable.from([bytes]), bytes.length + 1);
      await store.recordBlob(vendor, info.hashes.sha256, bytes.length, stagedAt);
    }
    const staged = await repo.stageVendorMetadata(vendor, JSON.parse(JSON.stringify(envelope)), {
      minLeadMs: 0,
      now: stagedAt,
    });
    results.push({
      manifest: basename(file),
      vendor,
      activatesAt: staged.activatesAt,
      skipped: false,
    });
  }
  return results;
}

/** The operator token of a dev repository: created once, kept in the data dir with mode 0600. */
export async function devOperatorToken(
  store: RepositoryStore,
  dataDir: string,
  now: number,
): Promise<string> {
  const file = join(dataDir, 'operator.token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = await store.issueToken(null, now);
  writeFileSync(file, token + '\n', { mode: 0o600 });
  return token;
}
