import net from 'node:net';

/** Why an address may not be the target of an outbound call made on a tenant's behalf. */
export type BlockedReason =
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'link_local'
  | 'cgnat'
  | 'unique_local'
  | 'metadata'
  | 'multicast'
  | 'reserved'
  | 'documentation'
  | 'invalid';

interface Range {
  bytes: number[];
  bits: number;
  reason: BlockedReason;
}

const v4 = (cidr: string, reason: BlockedReason): Range => {
  const [addr, bits] = cidr.split('/');
  return { bytes: addr!.split('.').map(Number), bits: Number(bits), reason };
};

const v6 = (cidr: string, reason: BlockedReason): Range => {
  const [addr, bits] = cidr.split('/');
  return { bytes: parseIpv6(addr!)!, bits: Number(bits), reason };
};

// Most specific first: the first matching range names the reason.
const V4_RANGES: Range[] = [
  v4('169.254.169.254/32', 'metadata'), // AWS, GCP, Azure, OpenStack instance metadata
  v4('168.63.129.16/32', 'metadata'), // Azure wire server (a public address)
  v4('100.100.100.200/32', 'metadata'), // Alibaba Cloud metadata
  v4('0.0.0.0/8', 'unspecified'),
  v4('10.0.0.0/8', 'private'),
  v4('100.64.0.0/10', 'cgnat'),
  v4('127.0.0.0/8', 'loopback'),
  v4('169.254.0.0/16', 'link_local'),
  v4('172.16.0.0/12', 'private'),
  v4('192.0.0.0/24', 'reserved'), // IETF protocol assignments (includes Oracle's metadata 192.0.0.192)
  v4('192.0.2.0/24', 'documentation'),
  v4('192.88.99.0/24', 'reserved'), // 6to4 relay anycast
  v4('192.168.0.0/16', 'private'),
  v4('198.18.0.0/15', 'reserved'), // benchmarking
  v4('198.51.100.0/24', 'documentation'),
  v4('203.0.113.0/24', 'documentation'),
  v4('224.0.0.0/4', 'multicast'),
  v4('240.0.0.0/4', 'reserved'), // includes 255.255.255.255
];

const V6_RANGES: Range[] = [
  v6('fd00:ec2::254/128', 'metadata'), // AWS instance metadata over IPv6
  v6('::/128', 'unspecified'),
  v6('::1/128', 'loopback'),
  v6('::/96', 'reserved'), // IPv4-compatible (deprecated)
  v6('100::/64', 'reserved'), // discard
  v6('2001::/32', 'reserved'), // Teredo
  v6('2001:db8::/32', 'documentation'),
  v6('fc00::/7', 'unique_local'),
  v6('fe80::/10', 'link_local'),
  v6('fec0::/10', 'reserved'), // site-local (deprecated)
  v6('ff00::/8', 'multicast'),
];
const NAT64 = v6('64:ff9b::/96', 'reserved');
const NAT64_LOCAL = v6('64:ff9b:1::/48', 'reserved');

function inRange(bytes: number[], r: Range): boolean {
  let bits = r.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i]! & mask) !== (r.bytes[i]! & mask)) return false;
  }
  return true;
}

/** Parses an IPv6 address (with `::`, an embedded dotted IPv4 tail, or a zone id) into 16 bytes. */
export function parseIpv6(input: string): number[] | undefined {
  let s = input.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (net.isIPv6(s) === false) return undefined;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    // Rewrite a dotted IPv4 tail (::ffff:1.2.3.4) as two hex groups.
    const q = s.slice(lastColon + 1).split('.').map(Number);
    s = `${s.slice(0, lastColon + 1)}${((q[0]! << 8) | q[1]!).toString(16)}:${((q[2]! << 8) | q[3]!).toString(16)}`;
  }
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const gap = s.indexOf('::');
  const head = parse(gap >= 0 ? s.slice(0, gap) : s);
  const rest = gap >= 0 ? parse(s.slice(gap + 2)) : [];
  const fill = 8 - head.length - rest.length;
  if (fill < 0 || (gap < 0 && fill !== 0)) return undefined;
  const words = [...head, ...new Array<number>(fill).fill(0), ...rest];
  return words.flatMap((w) => [(w >> 8) & 0xff, w & 0xff]);
}

/**
 * Why `address` must not be called, or undefined when it is a public unicast address. IPv4 addresses
 * embedded in IPv6 (mapped, NAT64, 6to4) are judged by their IPv4 part.
 */
export function blockedReason(address: string): BlockedReason | undefined {
  const family = net.isIP(address.replace(/^\[|\]$/g, '').split('%')[0]!);
  if (family === 4) {
    const bytes = address.split('.').map(Number);
    return V4_RANGES.find((r) => inRange(bytes, r))?.reason;
  }
  if (family !== 6) return 'invalid';
  const bytes = parseIpv6(address);
  if (!bytes) return 'invalid';
  const isMapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  const isNat64 = inRange(bytes, NAT64);
  if (isMapped || isNat64) return blockedReason(bytes.slice(12).join('.'));
  if (inRange(bytes, NAT64_LOCAL)) return 'reserved'; // local-use NAT64
  if (bytes[0] === 0x20 && bytes[1] === 0x02) return blockedReason(bytes.slice(2, 6).join('.')); // 6to4
  return V6_RANGES.find((r) => inRange(bytes, r))?.reason;
}
