import { Readable } from 'node:stream';
import { Hono, type Context } from 'hono';
import { FairpatchError } from '../../errors.js';
import { DEFAULT_GROUP, type DeliveryCounter } from '../../serving/accounting.js';
import type { Repository } from '../../release/repository.js';
import type { BlobStore } from '../../storage/blobs.js';
import { parseGroup } from '../../common/names.js';
import {
  IMMUTABLE,
  NO_STORE,
  etagOf,
  notModified,
  notModifiedHeaders,
} from '../../serving/caching.js';
import { countPoll, staleState } from '../../serving/poll.js';
import { timestampDocument } from '../../serving/timestamp.js';
import { acceptsGzip, gzipVariant } from '../compression.js';

const VERSIONED = /^([1-9]\d{0,15})\.([a-z0-9][a-z0-9-]{0,62})\.json$/;
const TARGET_FILE = /^([0-9a-f]{64})\.([A-Za-z0-9][A-Za-z0-9._+-]{0,127})$/;

export interface TufRouteDeps {
  repo: Repository;
  blobs: BlobStore;
  counter: DeliveryCounter;
  /** Refuse to serve when the state is older than this (a node that lost its database must not guess). */
  maxStateAgeMs: () => number;
  /** Throws CLOCK_SKEW when this node's clock cannot be trusted to say which tick it is. */
  assertClock?: () => void;
  /** Told of each timestamp poll served, by group (metrics). */
  onPoll?: (group: string) => void;
}

function groupOf(c: Context): string {
  const group = c.req.param('group');
  if (group === undefined) return DEFAULT_GROUP;
  parseGroup(group);
  return group;
}

/**
 * A metadata file with its validator: 304 when the client (or a cache revalidating) already holds
 * these bytes. Content-Length is explicit so that HEAD, which Hono answers from the GET handler
 * without a body, still tells the length. The headers go out in the order given (a plain object
 * keeps it through @hono/node-server; a Headers object would sort them): see timestampHeaders.
 */
function sendJson(c: Context, bytes: Buffer, headers: Record<string, string>): Response {
  if (notModified(c.req.header('if-none-match'), headers.ETag as string))
    return new Response(null, { status: 304, headers: notModifiedHeaders(headers) });
  return new Response(bytes as Uint8Array<ArrayBuffer>, { status: 200, headers });
}

const jsonHeaders = (
  bytes: Buffer,
  etag: string,
  cache: Record<string, string>,
): Record<string, string> => ({
  ...cache,
  'Content-Type': 'application/json',
  ETag: etag,
  'Content-Length': String(bytes.length),
});

/** A versioned metadata file, gzipped when that pays and the client accepts it (one ETag per coding). */
function sendImmutableJson(c: Context, bytes: Buffer): Response {
  const gz = gzipVariant(bytes);
  if (!gz)
    return sendJson(c, bytes, jsonHeaders(bytes, etagOf(bytes), { 'Cache-Control': IMMUTABLE }));
  const cache = { 'Cache-Control': IMMUTABLE, Vary: 'Accept-Encoding' };
  if (!acceptsGzip(c.req.header('accept-encoding')))
    return sendJson(c, bytes, jsonHeaders(bytes, etagOf(bytes), cache));
  // A strong validator differs between content codings of one resource (RFC 9110 §8.8.3).
  return sendJson(c, gz, {
    ...jsonHeaders(gz, `${etagOf(bytes).slice(0, -1)}-gzip"`, cache),
    'Content-Encoding': 'gzip',
  });
}

/**
 * TUF repository routes. `/g/<group>/…` serves exactly the bytes of `/…` and only adds
 * per-group accounting. The poll path reads precomputed bytes and an in-memory counter, nothing else.
 */
export function tufRoutes(deps: TufRouteDeps): Hono {
  const { repo, blobs } = deps;
  const app = new Hono();
  // Every answer of these routes but a success is uncacheable (see NO_STORE).
  app.use(async (c, next) => {
    await next();
    if (c.res.status >= 400) c.res.headers.set('Cache-Control', NO_STORE);
  });

  const metadata = (c: Context): Response | Promise<Response> => {
    const group = groupOf(c);
    const file = c.req.param('file') ?? '';
    deps.assertClock?.();
    const stale = staleState(repo, deps.maxStateAgeMs());
    if (stale) {
      throw new FairpatchError(
        'NOT_READY',
        'this node has lost its database for longer than the lead time; it will not serve a state it cannot vouch for',
        { details: { ...stale, retryAfterSeconds: 1 } },
      );
    }
    const view = repo.view;
    const k = repo.currentTick();
    if (file === 'timestamp.json') {
      // The same document, headers and count as the fast paths (src/serving/fast-poll.ts).
      const poll = timestampDocument(repo, k);
      countPoll(deps, group, k);
      return sendJson(c, poll.bytes, poll.headers);
    }
    const match = VERSIONED.exec(file);
    if (!match)
      throw new FairpatchError('NOT_FOUND', `${file} is not a metadata file of this repository`);
    const version = Number(match[1]);
    const role = match[2] as string;
    const targets =
      role === 'root' || role === 'snapshot' ? undefined : view.servedTargets(role, version, k);
    // An old version's bytes are no longer held in memory: read back (immutable; clients cache it).
    if (targets && !targets.bytes)
      return repo.store
        .versionBytes(role, targets.version)
        .then((bytes) => sendImmutableJson(c, bytes));
    const bytes =
      role === 'root'
        ? view.root(version, k)
        : role === 'snapshot'
          ? view.snapshotByVersion(version, k)
          : targets?.bytes;
    if (!bytes) throw new FairpatchError('NOT_FOUND', `${file} does not exist (yet)`);
    return sendImmutableJson(c, bytes);
  };

  const target = async (c: Context): Promise<Response> => {
    groupOf(c);
    deps.assertClock?.();
    const vendor = c.req.param('vendor') ?? '';
    const match = TARGET_FILE.exec(c.req.param('file') ?? '');
    if (!match)
      throw new FairpatchError('NOT_FOUND', 'targets are served as <vendor>/<sha256>.<file>');
    const [, sha256, name] = match as unknown as [string, string, string];
    const served = repo.view.targetAt(vendor, `${vendor}/${name}`, sha256, repo.currentTick());
    if (!served) throw new FairpatchError('NOT_FOUND', 'no such released target');
    // HTTP framing follows the file as it is; whether it is the right file is the client's TUF check.
    const length = await blobs.size(sha256);
    if (length === undefined) {
      // Signed metadata lists it, so a 404 would tell clients it does not exist: it is this node's storage that lacks it.
      throw new FairpatchError(
        'STORAGE_UNAVAILABLE',
        `this node cannot read the artifact ${sha256} from ${blobs.location}; another node may serve it`,
        { details: { retryAfterSeconds: 5 } },
      );
    }
    // The path names the content's hash: it is the strongest validator there is. Never compressed.
    const headers: Record<string, string> = {
      'Content-Type': 'application/octet-stream',
      'Cache-Control': IMMUTABLE,
      'Accept-Ranges': 'bytes',
      ETag: `"${sha256}"`,
    };
    if (notModified(c.req.header('if-none-match'), headers.ETag as string))
      return c.body(null, 304, notModifiedHeaders(headers));
    const range = parseRange(c.req.header('range'), length);
    // HEAD: Hono answers it from this handler and drops the body; do not open a file nobody reads.
    if (c.req.method === 'HEAD')
      return c.body(null, 200, { ...headers, 'Content-Length': String(length) });
    // The first bytes are read before the status is sent: storage that fails now is a 503, not a cut-off 200.
    const body = await primed(blobs.open(sha256, range));
    if (range) {
      headers['Content-Range'] = `bytes ${range.start}-${range.end}/${length}`;
      headers['Content-Length'] = String(range.end - range.start + 1);
      return c.body(Readable.toWeb(body) as ReadableStream, 206, headers);
    }
    headers['Content-Length'] = String(length);
    return c.body(Readable.toWeb(body) as ReadableStream, 200, headers);
  };

  for (const prefix of ['', '/g/:group']) {
    app.get(`${prefix}/metadata/:file`, metadata);
    app.get(`${prefix}/targets/:vendor/:file`, target);
  }
  return app;
}

/** A single `bytes=a-b` range (what resumable downloads use); anything else means the whole file. */
function parseRange(
  header: string | undefined,
  length: number,
): { start: number; end: number } | undefined {
  const match = header && /^bytes=(\d{1,15})-(\d{0,15})$/.exec(header);
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = match[2] ? Math.min(Number(match[2]), length - 1) : length - 1;
  if (start > end || start >= length)
    throw new FairpatchError('RANGE_NOT_SATISFIABLE', `range not satisfiable for ${length} bytes`);
  return { start, end };
}

/** Waits for a stream's first chunk (or its error), then streams that chunk and the rest. */
async function primed(stream: Readable): Promise<Readable> {
  const chunks = stream[Symbol.asyncIterator]();
  const first = await chunks.next();
  return Readable.from(
    (async function* () {
      try {
        if (first.done) return;
        yield first.value as Buffer;
        for (let next = await chunks.next(); !next.done; next = await chunks.next())
          yield next.value as Buffer;
      } finally {
        stream.destroy(); // a client that hangs up early leaves no open file or query behind
      }
    })(),
    { objectMode: false },
  );
}
