import { BlockList, isIP } from 'node:net';

/**
 * The address a request came from, for rate limits. Behind an Ingress or a load balancer every
 * request's peer is the proxy, so one client would exhaust everyone's budget; `X-Forwarded-For` is
 * believed only when the peer is a trusted proxy, and then only up to the first hop that is not one
 * (anyone can send the header; each proxy appends the address it saw).
 */
export function createClientAddress(trustedProxies: readonly string[]) {
  const trusted = new BlockList();
  for (const entry of trustedProxies) {
    const [address = '', bits] = entry.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) trusted.addAddress(address, type);
    else trusted.addSubnet(address, Number(bits), type);
  }
  const isTrusted = (address: string) => {
    const type = isIP(address);
    return type !== 0 && trusted.check(address, type === 6 ? 'ipv6' : 'ipv4');
  };
  return (peer: string, forwardedFor: string | undefined): string => {
    if (!forwardedFor || !isTrusted(peer)) return peer;
    const hops = forwardedFor
      .split(',')
      .map((hop) => hop.trim())
      .filter(Boolean);
    for (let i = hops.length - 1; i >= 0; i -= 1) {
      const hop = hops[i] ?? '';
      if (isIP(hop) === 0) return peer; // not an address: a forged or broken header
      if (!isTrusted(hop)) return hop;
    }
    return hops[0] ?? peer;
  };
}

/** Whether `entry` is an address or a CIDR block `createClientAddress` takes. */
export function isProxyEntry(entry: string): boolean {
  const [address = '', bits, extra] = entry.split('/');
  const type = isIP(address);
  if (type === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d+$/.test(bits) && n >= 0 && n <= (type === 6 ? 128 : 32);
}
