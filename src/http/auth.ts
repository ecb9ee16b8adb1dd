import type { MiddlewareHandler } from 'hono';
import { FairpatchError } from '../errors.js';
import type { RepositoryStore } from '../release/store.js';

export type Principal = { kind: 'operator' } | { kind: 'vendor'; vendor: string };
export type AuthEnv = { Variables: { principal: Principal } };

/** Bearer-token auth against hashed tokens; `allow` decides, given the principal and the route. */
export function requireToken(
  store: RepositoryStore,
  allow: (p: Principal, vendorParam: string | undefined) => boolean,
): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    // Three different mistakes, three different fixes: say which one it is.
    if (!header?.trim())
      throw new FairpatchError(
        'UNAUTHORIZED',
        'no Authorization header; send Authorization: Bearer <token>',
      );
    const match = /^(\S+)\s+(\S+)$/.exec(header.trim());
    if (!match || match[1]!.toLowerCase() !== 'bearer')
      throw new FairpatchError(
        'UNAUTHORIZED',
        'the Authorization header is not a Bearer token; send Authorization: Bearer <token>',
      );
    // A token of the wrong shape cannot be one we issued: it is unknown, and never looked up.
    const token = match[2]!;
    const found = /^[A-Za-z0-9_-]{16,200}$/.test(token) ? await store.findToken(token) : undefined;
    if (!found) throw new FairpatchError('UNAUTHORIZED', 'unknown or revoked token');
    const principal: Principal =
      found.vendor === null ? { kind: 'operator' } : { kind: 'vendor', vendor: found.vendor };
    if (!allow(principal, c.req.param('vendor')))
      throw new FairpatchError('FORBIDDEN', 'this token may not act on this resource');
    c.set('principal', principal);
    await next();
  };
}

export const vendorOnly = (p: Principal, vendor: string | undefined): boolean =>
  p.kind === 'vendor' && p.vendor === vendor;
export const operatorOnly = (p: Principal): boolean => p.kind === 'operator';
export const vendorOrOperator = (p: Principal, vendor: string | undefined): boolean =>
  operatorOnly(p) || vendorOnly(p, vendor);
