import net from 'node:net';
import { domainToASCII } from 'node:url';

/**
 * What a container may reach through the egress proxy. Two questions, asked
 * in this order by the proxy:
 *
 * 1. `allows(host, port)`: is the name (as the agent typed it) on the global
 *    or the conversation's allowlist? Deny by default.
 * 2. `refusedAddress(ip)`: for every address the name resolved to, is it an
 *    internal one (loopback, private, link-local, metadata, multicast, ...)?
 *    An allowlisted name can still point anywhere, so the address is checked
 *    after resolution and the proxy connects to that checked address only.
 *
 *   const policy = new EgressPolicy({ allow: ['*.github.com'], conversation: () => store.list(id) });
 *   policy.allows('api.github.com', 443)   // true
 *   policy.refusedAddress('169.254.169.254') // 'link-local'
 *
 * Entries: `example.com` (that host only), `*.example.com` (its subdomains,
 * not the apex), either with `:port`; without a port only 80 and 443 match.
 * IP literals (`203.0.113.7`, `[2001:db8::1]:8443`) match only when listed.
 * Hosts are compared in their ASCII form: case-folded, trailing dot removed,
 * IDN labels as punycode, so `Bücher.de.` and `xn--bcher-kva.de` are one host.
 */
export interface EgressPolicyOptions {
  /** Entries for every conversation (config `egress.allow`). Invalid ones throw. */
  allow?: readonly string[];
  /** The conversation's own entries, read on every decision so `/allow` applies to a live container. Invalid ones are skipped. */
  conversation?: () => readonly string[];
  /** CIDRs of internal ranges that may be reached anyway (config `egress.allowPrivate`), e.g. `192.168.1.10/32`. */
  allowPrivate?: readonly string[];
}

export interface AllowEntry {
  kind: 'host' | 'wildcard' | 'ip';
  /** Canonical host; for a wildcard, the suffix after `*.`; IPv6 without brackets. */
  host: string;
  port?: number;
}

/** Why an address is refused; reads as "a <kind> address". */
export type AddressKind = 'loopback' | 'private' | 'link-local' | 'multicast' | 'unspecified' | 'reserved' | 'unparsable';

export class EgressPolicy {
  private readonly global: AllowEntry[];
  private readonly conversation: () => readonly string[];
  private readonly privateAllowed = new net.BlockList();

  constructor(opts: EgressPolicyOptions = {}) {
    this.global = (opts.allow ?? []).map((raw) => {
      const entry = parseAllowEntry(raw);
      if (!entry) throw new Error(`egress.allow: "${raw}" is not an allowlist entry; use example.com, *.example.com, example.com:8443 or an IP address`);
      return entry;
    });
    this.conversation = opts.conversation ?? (() => []);
    for (const cidr of opts.allowPrivate ?? []) addCidr(this.privateAllowed, cidr);
  }

  /** True if `host` (canonical, see `canonicalHost`) on `port` is on either list. */
  allows(host: string, port: number): boolean {
    if (this.global.some((e) => entryMatches(e, host, port))) return true;
    for (const raw of this.conversation()) {
      const entry = parseAllowEntry(raw);
      if (entry && entryMatches(entry, host, port)) return true;
    }
    return false;
  }

  /** The kind of internal address `ip` is, unless `allowPrivate` covers it; undefined means it may be reached. */
  refusedAddress(ip: string): AddressKind | undefined {
    const kind = classifyAddress(ip);
    if (!kind || kind === 'unparsable') return kind;
    // BlockList matches an IPv4 range against the IPv4-mapped IPv6 form too.
    return this.privateAllowed.check(ip, net.isIPv4(ip) ? 'ipv4' : 'ipv6') ? undefined : kind;
  }
}

function entryMatches(e: AllowEntry, host: string, port: number): boolean {
  if (e.port !== undefined ? port !== e.port : port !== 80 && port !== 443) return false;
  if (e.kind === 'wildcard') return !net.isIP(host) && host.endsWith('.' + e.host);
  return host === e.host;
}

/**
 * The ASCII form of a host name or IP literal, or undefined if it is not one.
 * Anything unusual is refused rather than guessed at: spaces, `%`, empty
 * labels, and numeric forms that resolvers read as an IP (`0x7f.1`,
 * `2130706433`, `127.1`), which could otherwise slip past a name check.
 */
export function canonicalHost(raw: string): string | undefined {
  if (!raw || raw.length > 255 || /[\s%@/\\?#]/.test(raw)) return undefined;
  if (raw.startsWith('[') || raw.includes(':')) {
    const inner = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
    return net.isIPv6(inner) ? canonicalIPv6(inner) : undefined;
  }
  if (net.isIPv4(raw)) return raw;
  // WHATWG host parsing: IDNA mapping and punycode, and a name ending in a
  // number is read as an IPv4 address (`0x7f.1` becomes 127.0.0.1) or refused.
  let ascii = domainToASCII(raw);
  if (ascii.endsWith('.')) ascii = ascii.slice(0, -1);
  // Such a name is not the canonical dotted quad: refused rather than guessed at.
  if (!ascii || net.isIP(ascii) || ascii.length > 253) return undefined;
  if (!ascii.split('.').every((l) => /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/.test(l))) return undefined;
  return ascii;
}

/** Parses one allowlist entry; undefined if it is not valid. */
export function parseAllowEntry(raw: string): AllowEntry | undefined {
  let text = raw.trim().toLowerCase();
  const wildcard = text.startsWith('*.');
  if (wildcard) text = text.slice(2);
  let port: number | undefined;
  const withPort = /^(\[[^\]]*\]|[^:]*):([^:]*)$/.exec(text);
  if (withPort) {
    port = parsePort(withPort[2]);
    if (port === undefined) return undefined;
    text = withPort[1];
  }
  const host = canonicalHost(text);
  if (!host) return undefined;
  if (net.isIP(host)) return wildcard ? undefined : { kind: 'ip', host, port };
  return { kind: wildcard ? 'wildcard' : 'host', host, port };
}

/** Parses a CONNECT target (`host:port`, `[v6]:port`); the port is required. */
export function parseAuthority(raw: string): { host: string; port: number } | undefined {
  const m = /^(\[[^\]]*\]|[^:[\]]*):([^:]*)$/.exec(raw);
  if (!m) return undefined;
  const host = canonicalHost(m[1]);
  const port = parsePort(m[2]);
  return host && port ? { host, port } : undefined;
}

/** `host:port` as a user would type it, with brackets around IPv6. */
export function formatAuthority(host: string, port: number): string {
  return `${formatHost(host)}:${port}`;
}

/** A canonical host as it appears in a URL: IPv6 in brackets. */
export function formatHost(host: string): string {
  return net.isIPv6(host) ? `[${host}]` : host;
}

function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

function canonicalIPv6(ip: string): string | undefined {
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}

/** `::ffff:10.0.0.1` is 10.0.0.1 on the wire (a dual-stack socket connects to it over IPv4). */
export function unwrapMapped(ip: string): string {
  const words = net.isIPv6(ip) ? ipv6Words(ip) : undefined;
  if (!words || !words.slice(0, 5).every((w) => w === 0) || words[5] !== 0xffff) return ip;
  return wordsToIPv4(words[6], words[7]);
}

// Internal ranges, by kind. Documentation and benchmarking ranges count as
// reserved: no public service lives there, so a name resolving there is a trick.
const RANGES: Array<[AddressKind, string, number]> = [
  ['unspecified', '0.0.0.0', 8],
  ['private', '10.0.0.0', 8],
  ['private', '100.64.0.0', 10], // carrier-grade NAT (RFC 6598)
  ['loopback', '127.0.0.0', 8],
  ['link-local', '169.254.0.0', 16], // includes the cloud metadata service, 169.254.169.254
  ['private', '172.16.0.0', 12],
  ['reserved', '192.0.0.0', 24],
  ['reserved', '192.0.2.0', 24],
  ['private', '192.168.0.0', 16],
  ['reserved', '198.18.0.0', 15],
  ['reserved', '198.51.100.0', 24],
  ['reserved', '203.0.113.0', 24],
  ['multicast', '224.0.0.0', 4],
  ['reserved', '240.0.0.0', 4], // includes broadcast 255.255.255.255
  ['unspecified', '::', 128],
  ['loopback', '::1', 128],
  ['reserved', '::', 96], // IPv4-compatible, deprecated
  ['reserved', '64:ff9b:1::', 48], // local-use NAT64
  ['reserved', '100::', 64], // discard-only
  ['reserved', '2001:db8::', 32],
  ['private', 'fc00::', 7], // unique local
  ['link-local', 'fe80::', 10],
  ['private', 'fec0::', 10], // site-local, deprecated
  ['multicast', 'ff00::', 8],
];
const KIND_LISTS = new Map<AddressKind, net.BlockList>();
for (const [kind, prefix, bits] of RANGES) {
  if (!KIND_LISTS.has(kind)) KIND_LISTS.set(kind, new net.BlockList());
  KIND_LISTS.get(kind)!.addSubnet(prefix, bits, net.isIPv4(prefix) ? 'ipv4' : 'ipv6');
}

/**
 * The kind of internal address `ip` is, or undefined for an ordinary public
 * one. IPv6 forms that carry an IPv4 address (mapped, NAT64 `64:ff9b::/96`,
 * 6to4 `2002::/16`) are judged by the IPv4 address inside.
 */
export function classifyAddress(ip: string): AddressKind | undefined {
  const family = net.isIP(ip);
  if (!family) return 'unparsable';
  if (family === 6) {
    const w = ipv6Words(ip);
    if (!w) return 'unparsable';
    if (w.slice(0, 5).every((x) => x === 0) && w[5] === 0xffff) return classifyAddress(wordsToIPv4(w[6], w[7]));
    if (w[0] === 0x64 && w[1] === 0xff9b && w.slice(2, 6).every((x) => x === 0)) return classifyAddress(wordsToIPv4(w[6], w[7]));
    if (w[0] === 0x2002) return classifyAddress(wordsToIPv4(w[1], w[2]));
  }
  // `::` and `::1` sit inside `::/96`: ask the narrow kinds first.
  const order: AddressKind[] = ['unspecified', 'loopback', 'link-local', 'private', 'multicast', 'reserved'];
  return order.find((kind) => KIND_LISTS.get(kind)!.check(ip, family === 4 ? 'ipv4' : 'ipv6'));
}

function ipv6Words(ip: string): number[] | undefined {
  const canonical = canonicalIPv6(ip); // all hex, `::` at most once
  if (!canonical) return undefined;
  const [head, tail] = canonical.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const words = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return words.length === 8 ? words.map((x) => parseInt(x, 16)) : undefined;
}

function wordsToIPv4(hi: number, lo: number): string {
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

function addCidr(list: net.BlockList, cidr: string): void {
  const [addr, bits, extra] = cidr.trim().split('/');
  const family = net.isIP(addr);
  const prefix = bits === undefined ? (family === 4 ? 32 : 128) : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!family || extra !== undefined || !(prefix >= 0 && prefix <= (family === 4 ? 32 : 128))) {
    throw new Error(`egress.allowPrivate: "${cidr}" is not an address range; use a CIDR such as 192.168.1.10/32 or fd00::/64`);
  }
  list.addSubnet(addr, prefix, family === 4 ? 'ipv4' : 'ipv6');
}
