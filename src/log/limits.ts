import { FairpatchError } from '../errors.js';
import { leafJsonBytes } from '../common/canonical.js';

// The log's size limits, defined once and read by every side: the node that writes leaves, the
// routes that serve them, the auditor, the witness and the agents that read them. A leaf the node
// writes must be one every reader accepts; otherwise one vendor's upload (or one client's batch)
// would blind every audit from then on.

/** The largest leaf the node writes (bytes, as hashed into the tree); an append over it is refused. */
export const MAX_LEAF_BYTES = 8 * 1024 * 1024;

/**
 * The largest vendor metadata (its canonical bytes) a `release.activated` leaf carries: the leaf
 * schema's bound on its `metadata` string (src/log/leaves.ts). Staging refuses more, so the version
 * that would go live at its tick is one the node can log and the auditor can read.
 */
export const MAX_LOGGED_METADATA_BYTES = 4 * 1024 * 1024;

/**
 * `/log/entries` stops adding entries before the page's encoded entries pass this many bytes; a page
 * always carries at least one entry, so no leaf is ever out of reach. Readers page on from what they got.
 */
export const ENTRIES_PAGE_BYTES = 4 * 1024 * 1024;

/**
 * The largest `/log/entries` answer a reader accepts: a page's bound, or one leaf at its largest as
 * JSON escapes it (each `"` or `\` doubled), with room for the framing.
 */
export const MAX_ENTRIES_ANSWER_BYTES = ENTRIES_PAGE_BYTES + 2 * MAX_LEAF_BYTES + 64 * 1024;

/** Refuses leaf bytes over MAX_LEAF_BYTES (413, PAYLOAD_TOO_LARGE), naming what they were. */
export function assertLeafFits(bytes: Uint8Array, what: string): void {
  if (bytes.length > MAX_LEAF_BYTES)
    throw new FairpatchError(
      'PAYLOAD_TOO_LARGE',
      `${what} would make a log leaf of ${bytes.length} bytes; the log takes at most ${MAX_LEAF_BYTES}`,
      { details: { leafBytes: bytes.length, maxLeafBytes: MAX_LEAF_BYTES } },
    );
}

/**
 * Refuses vendor metadata whose activation leaf could not be logged or read back: its canonical
 * bytes over MAX_LOGGED_METADATA_BYTES, or the leaf carrying them (the widest numbers and hashes
 * filled in) over MAX_LEAF_BYTES. Checked at staging, so the refusal reaches the vendor, not the tick.
 */
export function assertMetadataLoggable(vendor: string, metadata: Buffer): void {
  const text = metadata.toString('utf8');
  if (metadata.length > MAX_LOGGED_METADATA_BYTES || text.length > MAX_LOGGED_METADATA_BYTES)
    throw new FairpatchError(
      'PAYLOAD_TOO_LARGE',
      `${vendor} metadata is ${metadata.length} bytes in canonical form; the log takes at most ${MAX_LOGGED_METADATA_BYTES} (remove old targets or split them into another product's metadata)`,
      { details: { metadataBytes: metadata.length, maxMetadataBytes: MAX_LOGGED_METADATA_BYTES } },
    );
  const widest = Number.MAX_SAFE_INTEGER;
  const hash = 'f'.repeat(64);
  const leaf = leafJsonBytes({
    type: 'release.activated',
    v: 2,
    vendor,
    metadata_version: widest,
    tick: widest,
    snapshot_version: widest,
    snapshot_sha256: hash,
    timestamp_sha256: hash,
    metadata: text,
  });
  assertLeafFits(leaf, `${vendor} metadata`);
}
