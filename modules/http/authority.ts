/**
 * The authority a request was sent to, and the names a server answers to.
 *
 * DNS rebinding: a page on `attacker.example` makes its name resolve to the device, and the browser then
 * treats the device as `attacker.example` — same origin, cookies and all. What gives it away is the name
 * in the request: `Host: attacker.example`. So the server answers only requests that name it — its
 * addresses, its configured names, `localhost` — and refuses any other with 421 Misdirected Request
 * before routing (RFC 9110 §15.5.20). The authority checked is the absolute-form target's when there is
 * one, else Host's (RFC 9112 §3.2.2); a Host or target authority that is not a valid `host[:port]` is 400
 * (RFC 9112 §3.2: `a b`, `a/b`, `user@x`, `x:abc`, and an empty Host where the target has none).
 */
import type { RequestHead } from './parser';

/** The status to answer instead of routing: 0 (route it), 400 (invalid authority) or 421 (not one of ours). */
export type AuthorityStatus = 0 | 400 | 421;

const MAX_PORT = 65535;

/**
 * `host:port` of an RFC 3986 authority without userinfo (`name`, `192.0.2.1`, `[2001:db8::1]`, each with
 * an optional `:port`), lower-cased, with `defaultPort` when the port is absent or empty; undefined when
 * `text` is not one. Names: letters, digits, `-._~`, RFC 3986 sub-delims and %HH; IP literals: hex digits,
 * `:` and `.` (IPvFuture and zone ids are refused).
 */
export function normalizeAuthority(text: string, defaultPort = 80): string | undefined {
  let host: string;
  let port: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return undefined;
    host = text.slice(0, close + 1);
    if (!/^\[[0-9a-fA-F:.]*:[0-9a-fA-F:.]*\]$/.test(host)) return undefined;
    const rest = text.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return undefined;
    port = rest.slice(1);
  } else {
    const colon = text.indexOf(':');
    host = colon < 0 ? text : text.slice(0, colon);
    port = colon < 0 ? '' : text.slice(colon + 1);
    if (!/^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$/.test(host)) return undefined;
  }
  if (!/^[0-9]{0,5}$/.test(port) || Number(port) > MAX_PORT) return undefined;
  return `${host.toLowerCase()}:${port === '' ? defaultPort : Number(port)}`;
}

/**
 * The names a server answers to. Entries: `name` (any port), `name:port` (that port only; `:80` also
 * matches a Host without port), IPv6 as `[::1]` or `[::1]:8080`, or `*` (any valid authority: turns the
 * DNS-rebinding defence off, e.g. behind a proxy that checks names itself). Names compare case-insensitively.
 */
export class HostAllowList {
  readonly entries: readonly string[];
  /** Values accepted as sent, without parsing: what browsers send for the entries. */
  readonly #exact: Set<string>;
  /** `host:port` of entries with a port. */
  readonly #authorities: string[] = [];
  /** `host` of entries without a port. */
  readonly #names: string[] = [];
  readonly #any: boolean;
  /** The last value accepted by the slow path: clients repeat theirs, so this keeps it cheap. */
  #lastAllowed: string | undefined;

  /** Throws TypeError naming an entry that is not a valid `host[:port]` or `*`. */
  constructor(entries: readonly string[]) {
    this.entries = Object.freeze(entries.slice());
    this.#any = entries.includes('*');
    this.#exact = new Set();
    for (const entry of entries) {
      if (entry === '*') continue;
      const normalized = normalizeAuthority(entry);
      if (normalized === undefined) throw new TypeError(`xsdot: allowed host ${JSON.stringify(entry)} is not a host name, IP address or [IPv6] with an optional :port`);
      const host = normalized.slice(0, normalized.lastIndexOf(':'));
      if (hasPort(entry)) {
        this.#authorities.push(normalized);
        this.#exact.add(normalized);
        if (normalized.endsWith(':80')) this.#exact.add(host);
      } else {
        this.#names.push(host);
        this.#exact.add(host);
      }
    }
  }

  /** 0 when `authority` (a Host value or a target's authority) names this server, 400 when invalid, 421 otherwise. */
  status(authority: string): AuthorityStatus {
    if (authority === this.#lastAllowed || this.#exact.has(authority)) return 0;
    const normalized = normalizeAuthority(authority);
    if (normalized === undefined) return 400;
    if (!this.#any && !this.#authorities.includes(normalized) && !this.#names.includes(normalized.slice(0, normalized.lastIndexOf(':')))) return 421;
    this.#lastAllowed = authority;
    return 0;
  }
}

function hasPort(entry: string): boolean {
  const close = entry.lastIndexOf(']');
  return entry.indexOf(':', close < 0 ? 0 : close) >= 0;
}

/**
 * The status for a request's authority (RFC 9112 §3.2, §3.2.2): the absolute-form target's authority
 * if it has one (Host must then still be valid, or empty), else Host's; HTTP/1.0 without Host names no
 * authority and passes (a browser always sends Host).
 */
export function authorityStatus(head: RequestHead, hosts: HostAllowList): AuthorityStatus {
  const authority = head.authority;
  if (authority === undefined) return 0;
  const status = hosts.status(authority);
  if (status !== 0 || !head.absoluteForm) return status;
  const host = head.headers.get('host');
  return host === undefined || host === '' || normalizeAuthority(host) !== undefined ? 0 : 400;
}

/** Names every host allows: the loopback names. */
export const LOOPBACK_NAMES: readonly string[] = Object.freeze(['localhost', '127.0.0.1', '[::1]']);

/**
 * The allow-list of a server listening on `port`: the loopback names and `addresses` (its IP addresses;
 * IPv6 with or without brackets), each pinned to `port`, then `names`, configured entries taken as they
 * are (`device.local` on any port, `device.local:8080`, `*`).
 */
export function defaultHosts(port: number, addresses: readonly string[], names: readonly string[] = []): string[] {
  const out: string[] = [];
  const add = (entry: string) => {
    if (!out.includes(entry)) out.push(entry);
  };
  for (const name of LOOPBACK_NAMES) add(`${name}:${port}`);
  for (const address of addresses) add(`${address.indexOf(':') >= 0 && !address.startsWith('[') ? `[${address}]` : address}:${port}`);
  for (const name of names) add(name);
  return out;
}
