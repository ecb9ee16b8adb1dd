import { Hono, type Context } from 'hono';
import { csafBytes, csafFileName, csafPath } from '../../advisory/csaf.js';
import { ADVISORY_FILE_MAX_BYTES, csafSignatureHolds } from '../../advisory/advisory-file.js';
import {
  PROVIDER_METADATA_PATH,
  ROLIE_FEED_PATH,
  providerMetadata,
  rolieFeed,
  sha512File,
} from '../../advisory/distribution.js';
import { osvBytes, osvId, osvIndexEntry } from '../../advisory/osv.js';
import { tickStart } from '../../common/tick.js';
import type { Repository } from '../../release/repository.js';
import { AdvisoryCatalog as Catalog, type PublicAdvisory } from '../../serving/advisory-catalog.js';
import type { BlobStore } from '../../storage/blobs.js';
import { FairpatchError } from '../../errors.js';
import { NO_STORE, etagOf, notModified, notModifiedHeaders } from '../../serving/caching.js';
import { staleState } from '../../serving/poll.js';
import type { ServedRepository } from '../../serving/served-repository.js';

export interface AdvisoryRouteDeps {
  repo: ServedRepository;
  catalog: Catalog;
  maxStateAgeMs: () => number;
  assertClock?: () => void;
  /** The URL clients reach the repository at; default: the origin each request names. */
  publicUrl?: string | undefined;
}

/**
 * Advisories (CSAF 2.0 and OSV) at the tick of their fix and not before (src/advisory). Every miss,
 * a pending advisory's path included, is the one 404 below, same body and headers: nothing tells
 * an advisory that will be public in a minute from one that does not exist. Answers are rendered
 * from the served state and the tick alone, so every node serves the same document bytes.
 */
export function advisoryRoutes(deps: AdvisoryRouteDeps): Hono {
  const { repo, catalog } = deps;
  const app = new Hono();
  app.use(async (c, next) => {
    await next();
    if (c.res.status >= 400) c.res.headers.set('Cache-Control', NO_STORE);
  });

  // Each public advisory's answers, rendered once per catalog entry (a new list at each change).
  const rendered = new WeakMap<PublicAdvisory, { csaf: Buffer; osv: Buffer; signed: boolean }>();
  const renderedOf = (advisory: PublicAdvisory) => {
    let done = rendered.get(advisory);
    if (!done) {
      const key = advisory.signerKey;
      done = {
        csaf: csafBytes(advisory.release),
        osv: osvBytes(advisory.release),
        // The vendor signed the document as it reads at the tick; a revision it did not sign (a
        // halt's), a re-timed release or a coordinated release's joint document (no one vendor's)
        // has no signature here rather than one that fails.
        signed:
          advisory.members.length === 1 &&
          advisory.release.withdrawnMs === undefined &&
          key !== undefined &&
          csafSignatureHolds(advisory.release, advisory.file.csaf_signature, key),
      };
      rendered.set(advisory, done);
    }
    return done;
  };

  const missing = (): never => {
    throw new FairpatchError('NOT_FOUND', 'no such public advisory');
  };

  const publicNow = async (): Promise<{ list: PublicAdvisory[]; k: number }> => {
    deps.assertClock?.();
    const stale = staleState(repo, deps.maxStateAgeMs());
    if (stale)
      throw new FairpatchError(
        'NOT_READY',
        'this node has lost its database for longer than the lead time; it will not say what is public',
        { details: { ...stale, retryAfterSeconds: 1 } },
      );
    const k = repo.currentTick();
    return { list: await catalog.publicAt(repo.view.state, k), k };
  };

  /** Changes at a halt, so revalidated rather than cached for long; the ETag saves the body. */
  const send = (c: Context, bytes: Buffer | string, type: string): Response => {
    const body = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    const headers = {
      'Content-Type': type,
      'Cache-Control': 'public, no-cache',
      ETag: etagOf(body),
      'Content-Length': String(body.length),
    };
    if (notModified(c.req.header('if-none-match'), headers.ETag))
      return new Response(null, { status: 304, headers: notModifiedHeaders(headers) });
    return new Response(body as Uint8Array<ArrayBuffer>, { status: 200, headers });
  };
  const json = (value: unknown): Buffer =>
    Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8');

  /** Who distributes: this repository, at the origin the client asked (a CSAF URL is absolute). */
  const distributor = (c: Context) => {
    const origin =
      deps.publicUrl?.replace(/\/+$/, '') ??
      (URL.canParse(c.req.url) ? new URL(c.req.url).origin : undefined);
    if (!origin || origin === 'null')
      throw new FairpatchError('BAD_REQUEST', 'the request names no host to serve CSAF URLs under');
    return { name: 'fairpatch repository', namespace: origin, baseUrl: origin };
  };
  const sinceMs = () => tickStart(repo.config, 1);

  app.get(PROVIDER_METADATA_PATH, async (c) => {
    const { list } = await publicNow();
    const releases = list.map((a) => a.release);
    return send(c, json(providerMetadata(distributor(c), releases, sinceMs())), 'application/json');
  });

  app.get(ROLIE_FEED_PATH, async (c) => {
    const { list } = await publicNow();
    const signed = new Set<unknown>();
    for (const advisory of list) if (renderedOf(advisory).signed) signed.add(advisory.release);
    const feed = rolieFeed(
      distributor(c),
      list.map((a) => a.release),
      sinceMs(),
      (release) => signed.has(release),
    );
    return send(c, json(feed), 'application/json');
  });

  app.get('/.well-known/csaf/clear/:year/:file', async (c) => {
    const { list } = await publicNow();
    const path = c.req.path;
    for (const advisory of list) {
      const document = csafPath(advisory.release);
      if (![document, `${document}.sha512`, `${document}.sig`].includes(path)) continue;
      const { csaf, signed } = renderedOf(advisory);
      if (path === document) return send(c, csaf, 'application/json');
      if (path === `${document}.sha512`)
        return send(
          c,
          sha512File(csaf, csafFileName(advisory.release.advisory.id)),
          'text/plain; charset=utf-8',
        );
      return signed ? send(c, json(advisory.file.csaf_signature), 'application/json') : missing();
    }
    return missing();
  });

  app.get('/osv/index.json', async (c) => {
    const { list } = await publicNow();
    const entries = list
      .map((a) => osvIndexEntry(a.release))
      .sort((a, b) => a.id.localeCompare(b.id));
    return send(c, json(entries), 'application/json');
  });

  app.get('/osv/:file', async (c) => {
    const { list } = await publicNow();
    const file = c.req.param('file');
    const found = list.find((a) => `${osvId(a.release.advisory.id)}.json` === file);
    return found ? send(c, renderedOf(found).osv, 'application/json') : missing();
  });

  // Anything else under these prefixes is the same miss.
  app.all('/.well-known/csaf/*', () => missing());
  app.all('/osv/*', () => missing());
  return app;
}

/** The routes wired to a node's repository and blob store: one line in src/http/app.ts. */
export function advisoryRoutesFor(deps: {
  repo: Repository;
  blobs: BlobStore;
  maxStateAgeMs: () => number;
  assertClock?: () => void;
  publicUrl?: string | undefined;
}): Hono {
  const { repo, blobs } = deps;
  const catalog = new Catalog({
    versionBytes: (vendor, version) => repo.store.versionBytes(vendor, version),
    async blobBytes(sha256) {
      const size = await blobs.size(sha256);
      // Staging admitted no larger advisory file: anything else is not read into memory.
      if (size === undefined || size > ADVISORY_FILE_MAX_BYTES) return undefined;
      const chunks: Buffer[] = [];
      for await (const chunk of blobs.open(sha256)) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
  });
  return advisoryRoutes({
    repo,
    catalog,
    maxStateAgeMs: deps.maxStateAgeMs,
    ...(deps.assertClock ? { assertClock: deps.assertClock } : {}),
    publicUrl: deps.publicUrl,
  });
}
