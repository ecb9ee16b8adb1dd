import { Readable } from 'node:stream';
import { Hono } from 'hono';
import { FairpatchError } from '../../errors.js';
import { assertStagedAdvisories } from './advisory-staging.js';
import type { BlobStore } from '../../storage/blobs.js';
import type { Repository } from '../../release/repository.js';
import { vendorName } from '../../tuf/schema.js';
import { parseEmbargoId } from '../../release/embargo.js';
import { type AuthEnv, operatorOnly, requireToken, vendorOnly, vendorOrOperator } from '../auth.js';
import { cutShort, readJson } from '../body.js';

export interface PublisherLimits {
  /** Largest JSON body (metadata uploads, registrations). Default 4 MiB. */
  maxJsonBytes: number;
  /** Largest artifact. Default 1 GiB. */
  maxArtifactBytes: number;
}

/** A blob's name: its lowercase hex SHA-256. */
export const SHA256 = /^[0-9a-f]{64}$/;

function vendorParam(value: string | undefined): string {
  const parsed = vendorName.safeParse(value);
  if (!parsed.success)
    throw new FairpatchError('BAD_REQUEST', 'vendor: lowercase letters, digits and dashes');
  return parsed.data;
}

/**
 * Publisher API (`/api/v1`). Vendors upload artifacts, then their signed delegated metadata; the
 * server verifies and stages, and never holds a vendor key. The operator registers vendors and roots.
 */
export function publisherRoutes(deps: {
  repo: Repository;
  blobs: BlobStore;
  limits: PublisherLimits;
}): Hono<AuthEnv> {
  const { repo, blobs, limits } = deps;
  const store = repo.store;
  const app = new Hono<AuthEnv>();
  const asVendor = requireToken(store, vendorOnly);
  const asOperator = requireToken(store, operatorOnly);

  app.put('/vendors/:vendor/blobs/:sha256', asVendor, async (c) => {
    const sha256 = c.req.param('sha256');
    if (!SHA256.test(sha256))
      throw new FairpatchError('BAD_REQUEST', 'blob name is its lowercase hex sha256');
    const declared = Number(c.req.header('content-length') ?? NaN);
    if (declared > limits.maxArtifactBytes)
      throw new FairpatchError(
        'PAYLOAD_TOO_LARGE',
        `artifact exceeds ${limits.maxArtifactBytes} bytes`,
      );
    const vendor = vendorParam(c.req.param('vendor'));
    // Only this vendor's own uploads may be skipped. Whether anyone else holds these bytes is never
    // said, by status, body or timing of an early answer: the body is always read and hash-checked,
    // so a hash alone (from a leaked schedule, say) proves nothing and claims nothing.
    const known = await store.blobLength(vendor, sha256);
    if (known !== undefined && (await blobs.has(sha256))) {
      await c.req.raw.body?.cancel();
      return c.json({ sha256, length: known, stored: false });
    }
    const body = c.req.raw.body;
    if (!body) throw new FairpatchError('BAD_REQUEST', 'artifact body is empty');
    const length = await blobs
      .put(
        sha256,
        Readable.fromWeb(body as import('node:stream/web').ReadableStream),
        limits.maxArtifactBytes,
      )
      .catch((error: unknown) => {
        throw cutShort(c, error);
      });
    // The bytes are stored before the row exists: an acknowledged blob is always readable.
    await store.recordBlob(vendor, sha256, length, repo.clock.now());
    return c.json({ sha256, length, stored: true }, 201);
  });

  // The operator reads it too: a key rotation re-signs the vendor's current targets.
  app.get('/vendors/:vendor/metadata/latest', requireToken(store, vendorOrOperator), async (c) => {
    const latest = await store.latestVendorMetadata(vendorParam(c.req.param('vendor')));
    if (!latest) throw new FairpatchError('NOT_FOUND', 'no metadata staged yet');
    return c.body(latest.bytes, 200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-store',
    });
  });

  app.post('/vendors/:vendor/metadata', asVendor, async (c) => {
    const vendor = vendorParam(c.req.param('vendor'));
    // `?embargo=ID`: staged into a coordinated release (src/release/embargo.ts).
    const embargo = c.req.query('embargo');
    const body = await readJson(c, limits.maxJsonBytes);
    await assertStagedAdvisories(repo, blobs, vendor, body);
    const result = await repo.stageVendorMetadata(
      vendor,
      body,
      embargo === undefined ? {} : { embargo: parseEmbargoId(embargo) },
    );
    return c.json(result, 201);
  });

  app.post('/vendors', asOperator, async (c) => {
    const registered = await repo.registerVendor(await readJson(c, limits.maxJsonBytes));
    const token = await store.issueToken(registered.name, repo.clock.now());
    return c.json({ ...registered, token }, 201);
  });

  app.post('/vendors/:vendor/tokens', asOperator, async (c) => {
    const vendor = vendorParam(c.req.param('vendor'));
    if (!(await store.vendor(vendor)))
      throw new FairpatchError('NOT_FOUND', `vendor ${vendor} is not registered`);
    const revoked =
      c.req.query('revoke') === 'all' ? await store.revokeTokens(vendor, repo.clock.now()) : 0;
    return c.json(
      { vendor, token: await store.issueToken(vendor, repo.clock.now()), revoked },
      201,
    );
  });

  app.post('/vendors/:vendor/key', asOperator, async (c) =>
    c.json(
      await repo.rotateVendorKey(
        vendorParam(c.req.param('vendor')),
        await readJson(c, limits.maxJsonBytes),
      ),
      201,
    ),
  );

  app.delete('/vendors/:vendor/tokens', asOperator, async (c) => {
    const vendor = vendorParam(c.req.param('vendor'));
    return c.json({ vendor, revoked: await store.revokeTokens(vendor, repo.clock.now()) });
  });

  app.get('/top-targets/latest', asOperator, async (c) => {
    const latest = await store.latestTopTargets();
    if (!latest) throw new FairpatchError('NOT_FOUND', 'no top-level targets yet');
    return c.body(latest.bytes, 200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-store',
    });
  });

  app.post('/root', asOperator, async (c) =>
    c.json(await repo.addRoot(await readJson(c, limits.maxJsonBytes)), 201),
  );

  return app;
}
