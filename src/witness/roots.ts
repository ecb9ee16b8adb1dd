import type { TufKey } from '../tuf/keys.js';
import type { Envelope, RootSigned } from '../tuf/metadata.js';
import { parseJson } from '../common/canonical.js';
import { assertRootSuccessor } from '../tuf/roles.js';
import { parseRoot } from '../tuf/schema.js';
import { textAtMost } from '../net/bounded.js';
import { reach } from '../net/unreachable.js';
import { WITNESS_LIMITS } from './config.js';

/** A root is a few KB (keys and role thresholds): a larger answer is refused unread past this. */
const MAX_ROOT_BYTES = 1024 * 1024;

/** Looks up root version N of the followed repository; undefined when there is none (yet). */
export type RootSource = (version: number) => Promise<unknown | undefined>;

/** Fetches `/metadata/N.root.json` from the repository node (TUF 5.3: roots are fetched by version). */
export function httpRootSource(
  logUrl: string,
  timeoutMs = WITNESS_LIMITS.rootFetchTimeoutMs,
): RootSource {
  return async (version) => {
    const response = await reach(new URL(`/metadata/${version}.root.json`, logUrl), {
      timeoutMs,
    });
    if (response.status === 404) return undefined;
    if (!response.ok) throw new Error(`root ${version}: HTTP ${response.status}`);
    return parseJson(await textAtMost(response, MAX_ROOT_BYTES), 'METADATA_INVALID');
  };
}

/**
 * The timestamp keys a witness accepts documents under: those of the root it was given and of every
 * successor it could check (TUF 5.3.4, each new root signed by a threshold of the old root's keys and
 * of its own), so rotation at the repository does not make the witness refuse new receipts, while a
 * root the repository never signed, or another repository's, never enters.
 */
export class TrustedRoots {
  private trusted: RootSigned;
  private readonly keys = new Map<string, TufKey>();
  private lastRefresh = Number.NEGATIVE_INFINITY;

  constructor(
    root: Envelope<RootSigned>,
    private readonly source: RootSource | undefined,
    private readonly now: () => number,
    /** Successor lookups at most this often: a flood of foreign documents must not become a flood of fetches. */
    private readonly minRefreshMs = 30_000,
  ) {
    this.trusted = root.signed;
    this.add(root.signed);
  }

  get version(): number {
    return this.trusted.version;
  }

  timestampKeys(): ReadonlyMap<string, TufKey> {
    return this.keys;
  }

  /** Follows newer roots; true when one was added. Failures leave the trusted set as it was. */
  async refresh(force = false): Promise<boolean> {
    if (!this.source || (!force && this.now() - this.lastRefresh < this.minRefreshMs)) return false;
    this.lastRefresh = this.now();
    let added = false;
    try {
      for (;;) {
        const body = await this.source(this.trusted.version + 1);
        if (body === undefined) break;
        const next = parseRoot(body) as Envelope<RootSigned>;
        assertRootSuccessor(this.trusted, next);
        this.trusted = next.signed;
        this.add(next.signed);
        added = true;
      }
    } catch (error) {
      console.error(
        `witness: following roots stopped at version ${this.trusted.version + 1}: ${(error as Error).message}`,
      );
    }
    return added;
  }

  private add(root: RootSigned): void {
    for (const id of root.roles.timestamp.keyids)
      if (root.keys[id]) this.keys.set(id, root.keys[id]);
  }
}
