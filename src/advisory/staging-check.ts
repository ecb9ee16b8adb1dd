import { FairpatchError } from '../errors.js';
import type { TargetsSigned } from '../tuf/metadata.js';
import { parseIsoSeconds } from '../tuf/time.js';
import { csafSignatureHolds, parseAdvisoryFile } from './advisory-file.js';
import { ADVISORY_PLATFORM, advisoryTargetName, fixFromTargets } from './release.js';

const refuse = (message: string): FairpatchError => new FairpatchError('ADVISORY_INVALID', message);

/**
 * The rules an advisory target meets before it is staged, on top of every target's (src/release/
 * staging.ts). It goes live with its fix: the fix's targets are added by the same version, so one
 * activation makes both public and the log's activation leaf shows it. Its file parses, names the
 * same id and CVEs as the signed facts, and carries the vendor key's signature over the CSAF
 * document every node will render at the release's tick; a document nobody can verify is refused
 * here rather than served.
 *
 * `files` holds the bytes of each advisory target this vendor uploaded; a target missing from it
 * is left to the general rules, which refuse it without saying whether anyone holds its bytes.
 */
export function assertAdvisoryTargets(input: {
  vendor: string;
  vendorKeyId: string;
  vendorPublicKeyHex: string;
  upload: TargetsSigned;
  previous: TargetsSigned | undefined;
  /** The start of the tick at which a version due at `releaseAtMs` goes live. */
  tickStartOf: (releaseAtMs: number) => number;
  files: ReadonlyMap<string, Uint8Array>;
}): void {
  const { vendor, upload, previous } = input;
  const before = previous?.targets ?? {};
  for (const [path, info] of Object.entries(upload.targets)) {
    const facts = info.custom;
    if (facts?.advisory === undefined || before[path]) continue;
    if (path !== `${vendor}/${advisoryTargetName(facts.advisory)}`)
      throw refuse(
        `${path}: an advisory's target is ${vendor}/${advisoryTargetName(facts.advisory)}`,
      );
    if (facts.platform !== ADVISORY_PLATFORM)
      throw refuse(`${path}: an advisory's platform is ${ADVISORY_PLATFORM}`);
    const fixAdded = Object.entries(upload.targets).some(
      ([p, t]) =>
        !before[p] &&
        t.custom?.advisory === undefined &&
        t.custom?.product === facts.product &&
        t.custom.version === facts.version,
    );
    const fix = fixFromTargets(vendor, upload.targets, path);
    if (!fix || !fixAdded)
      throw refuse(
        `${path}: an advisory goes live with its fix, ${facts.product} ${facts.version}, in the same version`,
      );
    const bytes = input.files.get(info.hashes.sha256);
    if (!bytes) continue;
    const file = parseAdvisoryFile(bytes);
    if (file.advisory.id !== facts.advisory)
      throw refuse(`${path}: the file is advisory ${file.advisory.id}, not ${facts.advisory}`);
    const cves = file.advisory.cves.map((c) => c.id).sort();
    if (cves.join() !== [...facts.cves].sort().join())
      throw refuse(`${path}: the signed CVEs are not the advisory's (${cves.join(', ')})`);
    const releaseAt = parseIsoSeconds(facts.release_at) ?? Number.NaN;
    const release = {
      advisory: file.advisory,
      fixes: [fix],
      publisher: { category: 'vendor' as const, name: vendor },
      publishedMs: input.tickStartOf(releaseAt),
    };
    if (
      file.csaf_signature.keyid !== input.vendorKeyId ||
      !csafSignatureHolds(release, file.csaf_signature, input.vendorPublicKeyHex)
    )
      throw refuse(
        `${path}: csaf_signature is not ${vendor}'s key over the CSAF document dated ${new Date(release.publishedMs).toISOString()} (the release's tick)`,
      );
  }
}
