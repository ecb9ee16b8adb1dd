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

export interface Database {
  repo_config: RepoConfigTable;
  root_versions: RootVersionTable;
  top_targets: TopTargetsTable;
  vendors: VendorTable;
  tokens: TokenTable;
  vendor_metadata: VendorMetadataTable;
  blobs: BlobTable;
}

export type Db = Kysely<Database>;
