import type { Kysely } from 'kysely';

// Times are integer milliseconds since the Unix epoch (bigint columns). Metadata is stored as the
// exact canonical bytes every node serves, as text.

export interface RepoConfigTable {
  key: string;
  value: string;
}

export interface RootVersionTable {
  version: number;
  bytes: string;
  created_at: number;
  /** From when it signs what is served (null: from the start). */
  effective_at: number | null;
}

export interface TopTargetsTable {
  version: number;
  bytes: string;
  effective_at: number;
  created_at: number;
}

export interface VendorTable {
  name: string;
  public_key: string;
  keyid: string;
  created_at: number;
}

export interface TokenTable {
  /** sha256 hex of the token: tokens are never stored in the clear. */
  hash: string;
  /** null for the operator token. */
  vendor: string | null;
  created_at: number;
  revoked_at: number | null;
}

export interface VendorMetadataTable {
  vendor: string;
  version: number;
  bytes: string;
  kind: 'release' | 'halt' | 'refresh';
  effective_at: number;
  created_at: number;
}

export interface BlobTable {
  sha256: string;
  length: number;
  created_at: number;
}

/** Which vendor uploaded which bytes: a target may only reference its own vendor's uploads. */
export interface VendorBlobTable {
  vendor: string;
  sha256: string;
  length: number;
  created_at: number;
}

/** A product belongs to the vendor that first published it, for good. */
export interface ProductTable {
  name: string;
  vendor: string;
  created_at: number;
}

/** A target path is bound to the bytes it was first staged with, across every later version. */
export interface TargetPathTable {
  path: string;
  sha256: string;
  length: number;
  created_at: number;
}

/** A blob whose chunks are all written and whose bytes hash to `sha256`. */
export interface BlobContentsTable {
  sha256: string;
  length: number;
  chunk_size: number;
  created_at: number;
}

export interface BlobChunkTable {
  sha256: string;
  idx: number;
  data: Buffer;
}

export interface LogHeadTable {
  id: number;
  size: number;
  root: string;
}

export interface LogLeafTable {
  idx: number;
  /** What makes a leaf unique (e.g. `activated:acme:3`): any node may append it, it lands once. */
  dedupe: string;
  data: string;
  created_at: number;
}

export interface LogNodeTable {
  level: number;
  idx: number;
  hash: string;
}

export interface LogCheckpointTable {
  size: number;
  note: string;
  created_at: number;
}

export interface ReceiptDocumentTable {
  digest: string;
  tick: number;
  document: string;
}

export interface InstallReportTable {
  grp: string;
  product: string;
  version: string;
  outcome: 'installed' | 'failed';
  count: number;
  updated_at: number;
}

export interface EmbargoTable {
  id: string;
  release_at: number;
  nonce: string;
  created_at: number;
  revealed_at: number | null;
}

export interface EmbargoMemberTable {
  embargo: string;
  vendor: string;
  staged_version: number | null;
  left_out: number;
}

export interface EmbargoDecisionTable {
  embargo: string;
  seq: number;
  decision: 'moved' | 'left-out';
  member: string | null;
  release_at: number;
  created_at: number;
}

/** A vouched key's first failure report of a staged release (src/release/auto-pause.ts). */
export interface AutoPauseFailureTable {
  release: string;
  agent: string;
  /** The signed report, as JSON: the pause leaf carries it. */
  report: string;
  created_at: number;
}

export interface Database {
  embargoes: EmbargoTable;
  embargo_members: EmbargoMemberTable;
  embargo_decisions: EmbargoDecisionTable;
  vendor_blobs: VendorBlobTable;
  products: ProductTable;
  target_paths: TargetPathTable;
  repo_config: RepoConfigTable;
  root_versions: RootVersionTable;
  top_targets: TopTargetsTable;
  vendors: VendorTable;
  tokens: TokenTable;
  vendor_metadata: VendorMetadataTable;
  blobs: BlobTable;
  blob_contents: BlobContentsTable;
  blob_chunks: BlobChunkTable;
  log_head: LogHeadTable;
  log_leaves: LogLeafTable;
  log_nodes: LogNodeTable;
  log_checkpoints: LogCheckpointTable;
  receipt_documents: ReceiptDocumentTable;
  install_reports: InstallReportTable;
  auto_pause_failures: AutoPauseFailureTable;
}

export type Db = Kysely<Database>;
