import { ADVISORY_FILE_MAX_BYTES } from '../../advisory/advisory-file.js';
import { assertAdvisoryTargets } from '../../advisory/staging-check.js';
import { activationTick, tickStart } from '../../common/tick.js';
import type { Repository } from '../../release/repository.js';
import type { BlobStore } from '../../storage/blobs.js';
import { keyIdOf } from '../../tuf/keys.js';
import { parseVendorTargets } from '../../tuf/schema.js';

/**
 * Before a vendor's upload is staged: its advisory targets meet src/advisory/staging-check.ts.
 * Only files this vendor uploaded are read, none over the bound (the parser refuses those);
 * anything else is left to staging's own rules, which refuse it the same way whoever holds those
 * bytes. An upload that does not parse is also left to staging.
 */
export async function assertStagedAdvisories(
  repo: Repository,
  blobs: BlobStore,
  vendor: string,
  body: unknown,
): Promise<void> {
  let upload;
  try {
    upload = parseVendorTargets(body);
  } catch {
    return;
  }
  const advisories = Object.values(upload.signed.targets).filter(
    (t) => t.custom?.advisory !== undefined,
  );
  if (advisories.length === 0) return;
  const registered = await repo.store.vendor(vendor);
  if (!registered) return;
  const files = new Map<string, Uint8Array>();
  for (const { hashes } of advisories) {
    if ((await repo.store.blobLength(vendor, hashes.sha256)) === undefined) continue;
    const size = await blobs.size(hashes.sha256);
    if (size === undefined) continue;
    // Too large to be an advisory: refused by its length, without reading it.
    if (size > ADVISORY_FILE_MAX_BYTES) {
      files.set(hashes.sha256, new Uint8Array(ADVISORY_FILE_MAX_BYTES + 1));
      continue;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of blobs.open(hashes.sha256)) chunks.push(chunk as Buffer);
    files.set(hashes.sha256, Buffer.concat(chunks));
  }
  const previous = await repo.store.latestVendorMetadata(vendor);
  const config = repo.config;
  assertAdvisoryTargets({
    vendor,
    vendorKeyId: keyIdOf(registered.key),
    vendorPublicKeyHex: registered.key.keyval.public,
    upload: upload.signed,
    previous: previous?.signed,
    tickStartOf: (ms) => tickStart(config, activationTick(config, ms)),
    files,
  });
}
