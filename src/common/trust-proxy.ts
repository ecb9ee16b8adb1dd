import { BlockList, isIP } from 'node:net';

/**
 * Which socket peers are proxies whose `X-Forwarded-For` is believed. Behind a load balancer every
 * request comes from the balancer's address; without this, every client would share its quotas.
 *
 * - `none` (default): the socket peer is the client; `X-Forwarded-For` is ignored (any client can write it).
 * - `cidrs`: peers inside these ranges are proxies. The header is read right to left, from the peer
 *   inwards, skipping addresses that are themselves trusted proxies; the first untrusted address is
 *   the client (each proxy appends the address it received the connection from, so only the entries
 *   our own proxies appended can be believed).
 * - `hops`: exactly this many proxies stand in front of every request, whatever their addresses;
 *   the client is that many entries from the right. Only safe when the node cannot be reached but
 *   through those proxies.
 *
 * Only `X-Forwarded-For` is read, never RFC 7239 `Forwarded` as well: with two headers a client could
 * pick whichever one its proxies do not overwrite.
 */
export type TrustProxy =
  | { kind: 'none' }
  | { kind: 'cidrs'; ranges: string[]; list: BlockList }
  | { kind: 'hops'; hops: number };

export const TRUST_NO_PROXY: TrustProxy = { kind: 'none' };

/** Entries read from the right of the header at most: a header is bounded, walking it need not be. */
export const MAX_HOPS = 32;

/**
 * Parses `--trust-proxy`: a comma-separated list of addresses or CIDR ranges (`10.0.0.0/8,::1`), or
 * a whole number of hops (`1`). Returns a message for the flag's error instead of throwing.
 */
export function parseTrustProxy(text: string): TrustProxy | string {
  const value = text.trim();
  if (value === '' || value === 'none') return TRUST_NO_PROXY;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops < 1 || hops > MAX_HOPS) return `a hop count must be between 1 and ${MAX_HOPS}`;
    return { kind: 'hops', hops };
  }
  const list = new BlockList();
  const ranges: string[] = [];
  for (const part of value.split(',')) {
    const item = part.trim();
    const match = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(item);
    const address = match ? normalizeAddress(match[1]!) : undefined;
    if (!match || !address) return `'${item}' is not an IP address or CIDR range`;
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    const max = family === 'ipv6' ? 128 : 32;
    const prefix = match[2] === undefined ? max : Number(match[2]);
    if (prefix > max) return `'${item}': prefix longer than ${max}`;
    list.addSubnet(address, prefix, family);
    ranges.push(`${address}/${prefix}`);
  }
  return { kind: 'cidrs', ranges, list };
}

/**
 * One address as written in a socket or an `X-Forwarded-For` entry, canonical enough to compare and
 * match: IPv4-mapped IPv6 (`::ffff:10.0.0.1`, what a dual-stack socket reports) becomes IPv4; a
 * port or brackets some proxies add (`[2001:db8::1]:443`, `192.0.2.1:5000`) are dropped. Anything
 * that is not an IP address is undefined.
 */
export function normalizeAddress(text: string): string | undefined {
  let value = text.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(value);
  if (bracketed) value = bracketed[1]!;
  else if (/^[\d.]+:\d{1,5}$/.test(value)) value = value.slice(0, value.lastIndexOf(':'));
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(value);
  if (mapped) value = mapped[1]!;
  const family = isIP(value);
  if (family === 0) return undefined;
  return family === 6 ? value.toLowerCase() : value;
}
