import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { isIP } from 'node:net';
import { MAX_HOPS, type TrustProxy, normalizeAddress } from '../common/trust-proxy.js';

// The parsing half lives in src/common/trust-proxy.ts (no HTTP framework: the settings schema uses it).
export {
  TRUST_NO_PROXY,
  type TrustProxy,
  normalizeAddress,
  parseTrustProxy,
} from '../common/trust-proxy.js';

/** True when this socket peer is a proxy of ours (its `X-Forwarded-For` is believed, its connections not capped). */
export function isTrustedProxy(trust: TrustProxy, peer: string | undefined): boolean {
  if (trust.kind === 'none') return false;
  if (trust.kind === 'hops') return true;
  const address = peer === undefined ? undefined : normalizeAddress(peer);
  return address !== undefined && trust.list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/**
 * The client's address given the socket peer and the `X-Forwarded-For` header (a comma-separated
 * list, client first, each proxy appending the address it saw). A malformed entry ends the walk: the
 * last proxy that was believed answers for the request.
 */
export function resolveClientAddress(
  trust: TrustProxy,
  peer: string | undefined,
  forwardedFor: string | undefined,
): string {
  const socketAddress = (peer && normalizeAddress(peer)) || 'unknown';
  if (trust.kind === 'none' || !forwardedFor || !isTrustedProxy(trust, socketAddress))
    return socketAddress;
  const entries = forwardedFor.split(',').slice(-MAX_HOPS).reverse();
  let client = socketAddress;
  for (const [i, entry] of entries.entries()) {
    if (trust.kind === 'hops' && i >= trust.hops) break;
    const address = normalizeAddress(entry);
    if (!address) break;
    client = address;
    if (trust.kind === 'cidrs' && !isTrustedProxy(trust, address)) break;
  }
  return client;
}

/** The socket peer of a request, or undefined for an in-process request (`app.request`, no socket). */
export function socketPeer(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined;
  }
}

/** The client address of a request under a trust setting; in-process requests all share 'unknown'. */
export function clientAddressOf(trust: TrustProxy): (c: Context) => string {
  return (c) => resolveClientAddress(trust, socketPeer(c), c.req.header('x-forwarded-for'));
}
