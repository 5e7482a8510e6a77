import http from 'node:http';
import type net from 'node:net';
import { canonicalHost, formatAuthority, formatHost, type AddressKind } from './egress-policy.ts';

/**
 * The egress proxy's side of the HTTP proxy protocol: reading request
 * targets, passing on only end-to-end headers, and the plain-text answers an
 * agent gets when something is refused. Every refusal says what happened and
 * what to do next, because the agent reads it and tells its user.
 *
 *   const target = parseAbsoluteForm('http://example.com/x');   // { host, port: 80, authority, path: '/x' }
 *   sendRefusal(res, refusals.notAllowlisted('example.org', 443));
 */

/** Why a request was refused, or why an allowed one ended early. */
export type EgressReason =
  | 'bad-request' | 'header-too-large' | 'auth' | 'revoked' | 'not-allowlisted' | 'blocked-address'
  | 'connection-limit' | 'byte-limit' | 'dns-failed' | 'upstream-failed' | 'idle-timeout' | 'client-closed';

export class Refusal {
  constructor(readonly status: number, readonly reason: EgressReason, readonly message: string, readonly address?: string) {}
}

const PREFIX = 'NanoClaw egress proxy:';

export const refusals = {
  badRequest: (detail: string) => new Refusal(400, 'bad-request', `${PREFIX} bad request: ${detail}`),
  headerTooLarge: (max: number) => new Refusal(431, 'header-too-large', `${PREFIX} the request headers are larger than ${formatBytes(max)}.`),
  auth: () => new Refusal(407, 'auth', `${PREFIX} missing or wrong proxy credentials. Use the proxy URL from HTTP_PROXY / HTTPS_PROXY exactly as it is; it carries this container's token.`),
  revoked: () => new Refusal(403, 'revoked', `${PREFIX} this container's network access has been revoked (the container is stopping).`),
  notAllowlisted: (host: string, port: number) => {
    const entry = port === 80 || port === 443 ? formatHost(host) : formatAuthority(host, port);
    return new Refusal(403, 'not-allowlisted', `${PREFIX} ${formatAuthority(host, port)} is not on this conversation's allowlist. Ask the owner to allow it (/allow ${entry}).`);
  },
  blockedAddress: (host: string, address: string, kind: AddressKind, literal: boolean) => new Refusal(403, 'blocked-address',
    `${PREFIX} ${literal ? `${host} is` : `${host} resolves to ${address},`} a ${kind} address; the proxy does not connect to loopback, private, link-local or other internal addresses. ` +
    'If this host is meant to be reachable, the operator can add its range to egress.allowPrivate.', address),
  byteLimit: (max: number) => new Refusal(403, 'byte-limit', `${PREFIX} this container has used its egress allowance of ${formatBytes(max)} in one direction; no more traffic is allowed. A new conversation (/end) starts with a fresh allowance.`),
  connectionLimit: (max: number) => new Refusal(429, 'connection-limit', `${PREFIX} this container already has ${max} connections open, the most it may; close some and retry.`),
  dnsFailed: (host: string, code: string) => new Refusal(502, 'dns-failed', `${PREFIX} could not resolve ${host} (${code}).`),
  upstreamFailed: (host: string, port: number, code: string) => new Refusal(502, 'upstream-failed', `${PREFIX} could not connect to ${formatAuthority(host, port)} (${code}).`),
  noAnswer: (host: string, port: number, code: string) => new Refusal(502, 'upstream-failed', `${PREFIX} ${formatAuthority(host, port)} failed to answer (${code}).`),
};

/** Splits `http://host[:port]/path` without normalizing the path (it goes upstream as sent); a string is the error. */
export function parseAbsoluteForm(target: string): { host: string; port: number; authority: string; path: string } | string {
  if (/^https:\/\//i.test(target)) return `send HTTPS through a tunnel (CONNECT ${target.slice(8).split(/[/?#]/)[0]}), not as "${target.slice(0, 100)}".`;
  const m = /^http:\/\/([^/?#]*)([^#]*)/i.exec(target);
  if (!m) return `this is a proxy: send absolute-form requests (GET http://host/path) or CONNECT host:port, not "${target.slice(0, 100)}".`;
  if (m[1].includes('@')) return 'credentials in the request URL are not forwarded; send an Authorization header instead.';
  const hp = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d{1,5}))?$/.exec(m[1]);
  const host = hp ? canonicalHost(hp[1]) : undefined;
  const port = hp?.[2] ? Number(hp[2]) : 80;
  if (!host || !(port >= 1 && port <= 65535)) return `"${m[1].slice(0, 100)}" is not a host name or address.`;
  const path = !m[2] ? '/' : m[2].startsWith('?') ? '/' + m[2] : m[2];
  // RFC 9112 3.2.2: the proxy sends this as Host, whatever Host the client sent.
  return { host, port, authority: port === 80 ? formatHost(host) : formatAuthority(host, port), path };
}

// Hop-by-hop headers (RFC 9110 7.6.1); `expect` too, since the proxy answered any 100-continue itself.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect', 'host']);

/** Drops hop-by-hop headers, those the Connection header names, and every Proxy-* header (the container token). */
export function endToEndHeaders(h: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const named = String(h.connection ?? '').toLowerCase().split(',').map((s) => s.trim());
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) {
    if (!HOP_BY_HOP.has(k) && !k.startsWith('proxy-') && !named.includes(k)) out[k] = v;
  }
  return out;
}

export function sendRefusal(res: http.ServerResponse, r: Refusal): void {
  if (res.headersSent || res.destroyed) { res.destroy(); return; }
  const body = r.message + '\n';
  res.writeHead(r.status, refusalHeaders(r, body));
  res.end(body);
}

/** The same answer on a raw socket: a CONNECT refused before its tunnel, or a request the parser rejected. */
export function writeRawRefusal(socket: net.Socket, r: Refusal): void {
  if (!socket.writable) { socket.destroy(); return; }
  const body = r.message + '\n';
  const head = Object.entries(refusalHeaders(r, body)).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.end(`HTTP/1.1 ${r.status} ${http.STATUS_CODES[r.status]}\r\n${head}\r\n${body}`);
}

function refusalHeaders(r: Refusal, body: string): Record<string, string> {
  return {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
    ...(r.status === 407 ? { 'Proxy-Authenticate': 'Basic realm="NanoClaw egress"' } : {}),
  };
}

function formatBytes(n: number): string {
  const units: Array<[number, string]> = [[1024 ** 3, 'GiB'], [1024 ** 2, 'MiB'], [1024, 'KiB']];
  for (const [size, unit] of units) if (n >= size) return `${+(n / size).toFixed(2)} ${unit}`;
  return `${n} bytes`;
}
