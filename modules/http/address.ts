/**
 * Client addresses as the server's per-client defences see them (connection fairness, login throttle):
 * one key per client, where a client is an IPv4 address or an IPv6 /64 — one host on an IPv6 network
 * usually holds a whole /64 and may pick any address in it (RFC 4941, RFC 8981), so keying by the full
 * address would give it 2^64 keys.
 */

/**
 * The client key of a peer address: the IPv4 address (also for IPv4-mapped IPv6, `::ffff:192.0.2.1`,
 * as a dual-stack listener reports IPv4 peers), `xxxx:xxxx:xxxx:xxxx::/64` for IPv6 (hex without leading
 * zeros, zone dropped), `"?"` when the host gave no address. Text that is neither is returned lower-cased.
 */
export function clientGroup(address: string | undefined): string {
  if (address === undefined || address === '') return '?';
  const lower = address.toLowerCase();
  if (lower.indexOf(':') < 0) return lower;
  if (lower.startsWith('::ffff:') && lower.indexOf('.') > 0) return lower.slice(7);
  return ipv6Prefix64(lower) ?? lower;
}

/** The first 64 bits of an IPv6 address as four hextets, or undefined when `text` is not IPv6. */
function ipv6Prefix64(text: string): string | undefined {
  const zone = text.indexOf('%');
  const bare = zone < 0 ? text : text.slice(0, zone);
  const gap = bare.indexOf('::');
  const head = hextets(gap < 0 ? bare : bare.slice(0, gap));
  const tail = gap < 0 ? [] : hextets(bare.slice(gap + 2));
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (gap < 0 ? missing !== 0 : missing < 1) return undefined;
  const groups = head.concat(new Array<number>(missing).fill(0), tail);
  return `${groups[0].toString(16)}:${groups[1].toString(16)}:${groups[2].toString(16)}:${groups[3].toString(16)}::/64`;
}

/** Colon-separated hextets (a trailing dotted IPv4 counts as two); undefined when malformed. */
function hextets(text: string): number[] | undefined {
  if (text === '') return [];
  const out: number[] = [];
  const parts = text.split(':');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (i === parts.length - 1 && part.indexOf('.') > 0) {
      out.push(0, 0); // the low 32 bits never reach the /64
      continue;
    }
    if (!/^[0-9a-f]{1,4}$/.test(part)) return undefined;
    out.push(parseInt(part, 16));
  }
  return out;
}
