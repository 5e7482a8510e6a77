import { timingSafeEqual } from 'node:crypto';
import dns from 'node:dns';
import { chmodSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { endToEndHeaders, parseAbsoluteForm, Refusal, refusals, sendRefusal, writeRawRefusal, type EgressReason } from './egress-http.ts';
import { parseAuthority, unwrapMapped, type EgressPolicy } from './egress-policy.ts';

export type { EgressReason } from './egress-http.ts';

/**
 * The HTTP(S) path out of a container. Each container gets its own proxy on a
 * Unix socket in its run folder (next to the credential proxy's); inside, the
 * runner bridges a loopback port to it and sets HTTP_PROXY / HTTPS_PROXY, so
 * curl, git, npm and Node's fetch use it. It speaks plain proxy HTTP:
 * absolute-form requests (`GET http://host/path`) are forwarded, `CONNECT
 * host:port` opens a tunnel whose TLS the proxy never sees.
 *
 * Every request is denied unless its host is allowlisted (see EgressPolicy);
 * the name is then resolved once, every address checked, and the proxy
 * connects to a checked address itself, never to the name again, so a DNS
 * answer that changes between check and use (rebinding) gains nothing.
 *
 *   const proxy = await startEgressProxy({ socketPath, token, policy, onDecision: audit });
 *   proxy.revoke(); await proxy.close();
 */
export interface EgressProxyOptions {
  socketPath: string;
  policy: EgressPolicy;
  /** The container's token, expected as the password of `Proxy-Authorization: Basic`; omit to accept any client. */
  token?: string;
  /** Resolves a name to all its addresses (default: the system resolver). */
  lookup?: (host: string) => Promise<Array<{ address: string; family: number }>>;
  /** Opens the upstream connection to an already checked address (tests inject this). */
  connect?: (target: { address: string; port: number; host: string }) => net.Socket;
  /** Most upstream connections (requests in flight plus tunnels) at once; default 32. */
  maxConnections?: number;
  /** Most bytes through this proxy in its lifetime, each direction (bodies and tunnel data); default 1 GiB. */
  maxBytes?: number;
  /** A tunnel or request with no traffic either way for this long is cut; default 5 minutes. */
  idleTimeoutMs?: number;
  /** Limit for resolving and for connecting upstream, each; default 10 s. */
  connectTimeoutMs?: number;
  /** Largest request head (request line and headers); larger gets 431. Default 16 KiB. */
  maxHeaderBytes?: number;
  /** Once per request or tunnel: when refused, or when an allowed one ends. For the audit log. */
  onDecision?: (decision: EgressDecision) => void;
}

export interface EgressDecision {
  allowed: boolean;
  host: string;
  port: number;
  /** `CONNECT` or the HTTP method. */
  method: string;
  /** Why it was refused, or why an allowed one ended early. */
  reason?: EgressReason;
  /** The address connected to (allowed) or the internal address that caused a refusal. */
  address?: string;
  /** Status the agent got: the refusal's, the upstream's for HTTP, 200 for an established tunnel. */
  status?: number;
  bytesUp: number;
  bytesDown: number;
}

export interface EgressProxy {
  /** Cuts every open request and tunnel and refuses new ones. */
  revoke(): void;
  /** Whether it still accepts connections on its socket (the dashboard's health view). */
  readonly listening: boolean;
  close(): Promise<void>;
}

/** One admitted request or tunnel: it holds a connection slot until `end()`, which reports it once. */
interface Flow {
  decision: EgressDecision;
  count(direction: 'up' | 'down', bytes: number): void;
  cut(reason: EgressReason): void;
  end(): void;
}

export async function startEgressProxy(opts: EgressProxyOptions): Promise<EgressProxy> {
  const maxConnections = opts.maxConnections ?? 32;
  const maxBytes = opts.maxBytes ?? 1024 ** 3;
  const maxHeaderBytes = opts.maxHeaderBytes ?? 16 * 1024;
  const idleMs = opts.idleTimeoutMs ?? 300_000;
  const connectMs = opts.connectTimeoutMs ?? 10_000;
  const lookup = opts.lookup ?? ((host: string) => dns.promises.lookup(host, { all: true, order: 'verbatim' }));
  // Half-open allowed, so a tunnel passes a one-sided shutdown through instead of ending both ways.
  const connect = opts.connect ?? ((t: { address: string; port: number }) => net.connect({ host: t.address, port: t.port, allowHalfOpen: true }));
  const expected = opts.token === undefined ? undefined : Buffer.from(opts.token);
  let revoked = false;
  let open = 0; // connection slots taken, from admission on, so lookups in progress count too
  const totals = { up: 0, down: 0 };
  const flows = new Set<Flow>();
  const tunnelClients = new Set<net.Socket>(); // CONNECT sockets leave the HTTP server's bookkeeping

  const emit = (d: EgressDecision) => { try { opts.onDecision?.(d); } catch { /* the audit sink's failure is not the agent's */ } };
  const refused = (method: string, host: string, port: number, r: Refusal) =>
    emit({ allowed: false, host, port, method, reason: r.reason, address: r.address, status: r.status, bytesUp: 0, bytesDown: 0 });

  function checkAuth(headers: http.IncomingHttpHeaders): Refusal | undefined {
    if (revoked) return refusals.revoked();
    if (!expected) return undefined;
    // Any user name: curl, git and npm send whatever the proxy URL holds; the password is the token.
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(String(headers['proxy-authorization'] ?? ''));
    const decoded = m ? Buffer.from(m[1], 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const presented = Buffer.from(colon >= 0 ? decoded.slice(colon + 1) : '');
    if (colon >= 0 && presented.length === expected.length && timingSafeEqual(presented, expected)) return undefined;
    return refusals.auth();
  }

  /**
   * Everything between "a request arrived" and "an upstream socket is
   * connected": allowlist, limits, one resolution, the address check, the
   * connect. On success the caller holds a connection slot and must hand it
   * to `startFlow` at once.
   */
  async function admit(host: string, port: number): Promise<{ socket: net.Socket; address: string } | Refusal> {
    if (!opts.policy.allows(host, port)) return refusals.notAllowlisted(host, port);
    if (totals.up >= maxBytes || totals.down >= maxBytes) return refusals.byteLimit(maxBytes);
    if (open >= maxConnections) return refusals.connectionLimit(maxConnections);
    open++;
    let held = false;
    try {
      let addresses: string[];
      if (net.isIP(host)) addresses = [host];
      else {
        try {
          addresses = (await withTimeout(lookup(host), connectMs)).map((a) => a.address);
        } catch (err) {
          return refusals.dnsFailed(host, errorCode(err));
        }
        if (!addresses.length) return refusals.dnsFailed(host, 'no addresses');
      }
      // Every address, not just the first: one internal answer taints the name.
      for (const address of addresses) {
        const kind = opts.policy.refusedAddress(address);
        if (kind) return refusals.blockedAddress(host, address, kind, net.isIP(host) !== 0);
      }
      // Connect to the checked addresses themselves, in order; the name is never resolved again.
      let lastError: unknown;
      for (const checked of addresses) {
        const address = unwrapMapped(checked);
        try {
          const socket = await connectTo({ address, port, host });
          if (revoked) { socket.destroy(); return refusals.revoked(); }
          held = true;
          return { socket, address };
        } catch (err) {
          lastError = err;
        }
      }
      return refusals.upstreamFailed(host, port, errorCode(lastError));
    } finally {
      if (!held) open--;
    }
  }

  function connectTo(target: { address: string; port: number; host: string }): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect(target);
      const fail = (err: Error) => { clearTimeout(timer); socket.destroy(); reject(err); };
      const timer = setTimeout(() => fail(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })), connectMs);
      socket.once('error', fail);
      socket.once('connect', () => { clearTimeout(timer); socket.removeListener('error', fail); resolve(socket); });
    });
  }

  function startFlow(decision: EgressDecision, cutSockets: () => void): Flow {
    let ended = false;
    const flow: Flow = {
      decision,
      count(direction, bytes) {
        if (direction === 'up') decision.bytesUp += bytes; else decision.bytesDown += bytes;
        totals[direction] += bytes;
        if (totals[direction] > maxBytes) flow.cut('byte-limit');
      },
      cut(reason) {
        if (ended) return;
        decision.reason ??= reason;
        cutSockets();
        flow.end();
      },
      end() {
        if (ended) return;
        ended = true;
        flows.delete(flow);
        open--;
        emit(decision);
      },
    };
    flows.add(flow);
    return flow;
  }

  async function handleRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const target = req.url ?? '';
    const fail = (host: string, port: number, r: Refusal) => { refused(method, host, port, r); sendRefusal(res, r); };
    const denied = checkAuth(req.headers);
    if (denied) return fail(target.slice(0, 200), 0, denied);
    const parsed = parseAbsoluteForm(target);
    if (typeof parsed === 'string') return fail(target.slice(0, 200), 0, refusals.badRequest(parsed));
    const { host, port, authority, path } = parsed;

    const admitted = await admit(host, port);
    if (admitted instanceof Refusal) return fail(host, port, admitted);
    const { socket, address } = admitted;
    let up: http.ClientRequest | undefined;
    const flow = startFlow({ allowed: true, host, port, method, address, bytesUp: 0, bytesDown: 0 }, () => {
      up?.destroy();
      res.destroy();
      socket.destroy();
    });
    if (res.closed || req.destroyed) return flow.cut('client-closed');

    const headers = endToEndHeaders(req.headers);
    // A chunked body stays chunked (Node frames it again); otherwise a GET's body would lose its framing.
    if (req.headers['transfer-encoding'] && !req.headers['content-length']) headers['transfer-encoding'] = 'chunked';
    headers.host = authority;
    try {
      up = http.request({ method, path, headers, createConnection: () => socket });
    } catch {
      // Node refuses some paths and header values its parser let through.
      flow.decision.status = 400;
      return flow.cut('bad-request');
    }
    socket.setTimeout(idleMs, () => flow.cut('idle-timeout'));
    req.on('data', (chunk: Buffer) => flow.count('up', chunk.length));
    req.pipe(up);
    up.on('response', (upRes) => {
      flow.decision.status = upRes.statusCode;
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, endToEndHeaders(upRes.headers));
      upRes.on('data', (chunk: Buffer) => flow.count('down', chunk.length));
      upRes.pipe(res);
      upRes.on('end', () => { flow.end(); socket.destroy(); });
      upRes.on('error', () => flow.cut('upstream-failed'));
    });
    up.on('error', (err) => {
      if (res.headersSent || res.destroyed) return flow.cut('upstream-failed');
      flow.decision.reason = 'upstream-failed';
      flow.decision.status = 502;
      flow.end();
      sendRefusal(res, refusals.noAnswer(host, port, errorCode(err)));
    });
    res.on('close', () => { if (!res.writableFinished) flow.cut('client-closed'); });
  }

  async function handleConnect(req: http.IncomingMessage, client: net.Socket, head: Buffer): Promise<void> {
    tunnelClients.add(client);
    client.on('error', () => client.destroy());
    client.on('close', () => tunnelClients.delete(client));
    const target = req.url ?? '';
    const fail = (host: string, port: number, r: Refusal) => { refused('CONNECT', host, port, r); writeRawRefusal(client, r); };
    const denied = checkAuth(req.headers);
    if (denied) return fail(target.slice(0, 200), 0, denied);
    const parsed = parseAuthority(target);
    if (!parsed) return fail(target.slice(0, 200), 0, refusals.badRequest(`CONNECT needs host:port, got "${target.slice(0, 200)}".`));
    const { host, port } = parsed;

    const admitted = await admit(host, port);
    if (admitted instanceof Refusal) return fail(host, port, admitted);
    const { socket: upstream, address } = admitted;
    const flow = startFlow({ allowed: true, host, port, method: 'CONNECT', address, status: 200, bytesUp: 0, bytesDown: 0 }, () => {
      client.destroy();
      upstream.destroy();
    });
    if (client.destroyed) return flow.cut('client-closed');

    upstream.setTimeout(idleMs, () => flow.cut('idle-timeout'));
    upstream.on('error', () => flow.cut('upstream-failed'));
    client.on('error', () => flow.cut('client-closed'));
    // Counting listeners go first: a chunk over the byte limit is dropped, not forwarded.
    client.on('data', (chunk: Buffer) => flow.count('up', chunk.length));
    upstream.on('data', (chunk: Buffer) => flow.count('down', chunk.length));
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) {
      flow.count('up', head.length);
      if (!upstream.destroyed) upstream.write(head);
    }
    // Half-closes pass through (pipe ends the other side); the flow ends when both sockets are gone.
    client.pipe(upstream);
    upstream.pipe(client);
    let closed = 0;
    const onClose = () => { if (++closed === 2) flow.end(); };
    client.on('close', () => { upstream.destroy(); onClose(); });
    upstream.on('close', onClose);
  }

  const server = http.createServer({
    maxHeaderSize: maxHeaderBytes,
    requestTimeout: 0, // a long upload is fine; a stalled one hits the idle timeout
    headersTimeout: 30_000,
  });
  // A bug in a handler must cost one connection, never the gateway process.
  server.on('request', (req, res) => void handleRequest(req, res).catch(() => res.destroy()));
  server.on('connect', (req, socket: net.Socket, head) => void handleConnect(req, socket, head).catch(() => socket.destroy()));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    if (!socket.writable || err.code === 'ECONNRESET') return socket.destroy();
    const r = err.code === 'HPE_HEADER_OVERFLOW' ? refusals.headerTooLarge(maxHeaderBytes)
      : refusals.badRequest(`not HTTP the proxy understands (${err.code ?? err.message}).`);
    refused('UNKNOWN', '', 0, r);
    writeRawRefusal(socket, r);
  });
  // A backstop against a container opening sockets without end; the limit that matters is on upstream connections.
  server.maxConnections = maxConnections * 4;

  rmSync(opts.socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.socketPath, () => resolve());
  });
  // The container's user is not ours; the socket's folder is private to this container.
  chmodSync(opts.socketPath, 0o666);

  const revoke = () => {
    revoked = true;
    for (const flow of [...flows]) flow.cut('revoked');
    for (const socket of tunnelClients) socket.destroy();
    server.closeAllConnections();
  };
  return {
    revoke,
    get listening() { return server.listening; },
    close: () => new Promise<void>((resolve) => {
      revoke();
      server.close(() => resolve());
    }),
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { code: 'ETIMEOUT' })), ms); });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? (err as Error)?.message ?? String(err);
}
