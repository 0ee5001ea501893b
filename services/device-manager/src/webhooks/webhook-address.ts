import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

// Addresses a webhook may not reach unless WEBHOOK_ALLOWED_NETWORKS names them: the API's own host
// and network, the cluster's, and cloud metadata endpoints (169.254.169.254) — whoever may create a
// webhook must not be able to make the API post into the inside.
const INTERNAL = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const;

function blockList(entries: Iterable<readonly [string, number | undefined]>) {
  const list = new BlockList();
  for (const [address, bits] of entries) {
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, bits, type);
  }
  return list;
}

const internal = blockList(INTERNAL);

/** The networks WEBHOOK_ALLOWED_NETWORKS names (addresses or CIDR blocks), as a block list. */
export function allowedNetworks(entries: readonly string[]): BlockList {
  return blockList(
    entries.map((entry) => {
      const [address = '', bits] = entry.split('/');
      return [address, bits === undefined ? undefined : Number(bits)] as const;
    }),
  );
}

/** The IPv4 address an IPv4-mapped IPv6 one maps (`::ffff:127.0.0.1`, as URLs write it `::ffff:7f00:1`). */
function mappedIpv4(address: string): string | undefined {
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (dotted) return dotted;
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!hex) return undefined;
  const [high, low] = [Number.parseInt(hex[1] ?? '', 16), Number.parseInt(hex[2] ?? '', 16)];
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/** Why `address` may not be posted to, or undefined when it may. */
export function refusedAddress(address: string, allowed: BlockList): string | undefined {
  const plain = mappedIpv4(address) ?? address;
  const type = isIP(plain) === 6 ? 'ipv6' : 'ipv4';
  if (allowed.check(plain, type) || !internal.check(plain, type)) return undefined;
  return `${plain} is an internal address (allow it with WEBHOOK_ALLOWED_NETWORKS)`;
}

/**
 * A DNS lookup for the webhook's connection that refuses internal addresses: the address checked is
 * the one connected to, so a name that resolves elsewhere on the next lookup gains nothing.
 */
export function guardedLookup(allowed: BlockList): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const refused = addresses.map((a) => refusedAddress(a.address, allowed)).find(Boolean);
      if (refused)
        return callback(Object.assign(new Error(`refused: ${refused}`), { code: 'EREFUSED' }), '', 0);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const [first] = addresses;
      callback(null, first?.address ?? '', first?.family ?? 4);
    });
  };
}
