import { chmodSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { timingSafeEqual } from 'node:crypto';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { CallGate } from './call-gate.ts';
import type { MeteredUsage } from './pricing.ts';
import { credentialHeaders, ProviderRoutes, requireStreamedUsage, type ProviderRoute, type ResolvedRoute } from './provider-routes.ts';
import { UsageMeter } from './usage-meter.ts';

export type { ProviderRoute } from './provider-routes.ts';

/**
 * The model path out of a container. Each container gets its own proxy on a
 * Unix socket in its run folder; the container presents its per-container
 * token, the proxy swaps it for the real key of the provider the call names
 * and forwards to that provider (provider-routes.ts: `/p/<name>/...`, bare
 * `/v1/messages` to the default one). The real keys exist only in this process.
 *
 * Only the model endpoints each provider's kind needs are forwarded, with
 * limits the agent cannot lift, the same for every provider: a few calls in
 * flight (more wait in line, and past the line get 429), a request body cap
 * (413), a budget asked before each call leaves (403) and an upstream that
 * stays silent too long is cut (504). Usage, cache tokens included, is read
 * from the answers as they stream past, in either API's format; a streamed
 * OpenAI-compatible request is made to ask for its usage. The proxy asks
 * upstream for an uncompressed body and decodes one that comes compressed
 * anyway, so nothing goes unmetered in silence (an answer it cannot read is
 * reported as `unmetered`).
 *
 * The proxy's own refusals have the body `{type:'error', error:{type, message}}`,
 * which both APIs' clients read (`error.type`, `error.message`).
 *
 *   const proxy = await startCredentialProxy({ socketPath, token, routes: [
 *     { name: 'claude', kind: 'anthropic', upstream: 'https://api.anthropic.com', apiKey },
 *     { name: 'local', kind: 'openai', upstream: 'http://127.0.0.1:11434/v1' }], defaultRoute: 'claude', onUsage });
 *   proxy.revoke(); await proxy.close();
 */
export interface CredentialProxyOptions {
  socketPath: string;
  token: string;
  /** The providers this container may call, each at `/p/<name>/...`. */
  routes?: ProviderRoute[];
  /** The anthropic route that bare `/v1/messages...` paths go to (the Claude Agent SDK's `ANTHROPIC_BASE_URL`); without one they get 403. */
  defaultRoute?: string;
  /**
   * Shorthand for one anthropic route named `anthropic` that is also the
   * default: `{ upstream, apiKey }`. Not together with `routes`.
   */
  upstream?: string;
  apiKey?: string;
  /** Each answered call's tokens by kind, the model that answered and the provider it went to. */
  /** Answer text as the model streams it, for live views (the dashboard); the container pays nothing for it. */
  onText?: (text: string) => void;
  onUsage?: (usage: MeteredUsage) => void;
  /** Called as each allowed request starts (benchmarks time the first one). */
  onRequest?: (path: string) => void;
  /** Asked before each model call leaves, with the provider it goes to; a string refuses the call with that message (budgets). */
  checkBudget?: (provider: string) => string | undefined;
  /** Every call, forwarded or refused, for the audit log. */
  onCall?: (call: ModelCall) => void;
  /** Most calls in flight at once (default 2); more wait for a free slot. */
  maxInFlight?: number;
  /** Most calls waiting for a slot (default 16); beyond that a call gets 429 and the engine retries later. */
  maxWaiting?: number;
  /** Largest request body in bytes (default 32 MiB, the Messages API's own limit); larger gets 413. */
  maxRequestBytes?: number;
  /** A call whose upstream sends or takes nothing for this long is cut (default 10 minutes). */
  timeoutMs?: number;
}

/** One call as the audit log records it; `provider` once the path named one that exists. */
export type ModelCall = Partial<MeteredUsage> & {
  path: string;
  status: number;
  /** The proxy answered itself: the message the agent got. */
  refused?: string;
  /** The call was answered but its usage could not be read: why. */
  unmetered?: string;
  /** A 200 answer that reported an error inside it (a stream failing midway): `<type>: <message>`, clipped. */
  streamError?: string;
};

export interface CredentialProxy {
  /** Makes the token useless from now on; in-flight streams are cut. */
  revoke(): void;
  /** Whether it still accepts connections on its socket (the dashboard's health view). */
  readonly listening: boolean;
  close(): Promise<void>;
}

// Hop-by-hop and credential headers are never passed through; accept-encoding is set by the proxy.
const DROP = new Set(['host', 'connection', 'keep-alive', 'proxy-authorization', 'transfer-encoding', 'upgrade', 'x-api-key', 'authorization', 'content-length', 'accept-encoding', 'te']);
const PREFIX = 'NanoClaw credential proxy:';

/** The routes the options describe: `routes`, or the one-route `upstream`/`apiKey` shorthand. */
function routesOf(opts: CredentialProxyOptions): ProviderRoutes {
  if (opts.upstream === undefined) return new ProviderRoutes(opts.routes ?? [], opts.defaultRoute);
  if (opts.routes) throw new Error('Credential proxy: give either routes or the upstream/apiKey shorthand, not both.');
  return new ProviderRoutes([{ name: 'anthropic', kind: 'anthropic', upstream: opts.upstream, apiKey: opts.apiKey }], opts.defaultRoute ?? 'anthropic');
}

export async function startCredentialProxy(opts: CredentialProxyOptions): Promise<CredentialProxy> {
  let revoked = false;
  const expected = Buffer.from(opts.token);
  const routes = routesOf(opts);
  const inFlight = new Set<http.ClientRequest>();
  const gate = new CallGate(opts.maxInFlight ?? 2, opts.maxWaiting ?? 16);
  const maxBody = opts.maxRequestBytes ?? 32 * 1024 * 1024;
  const timeoutMs = opts.timeoutMs ?? 600_000;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = req.url ?? '/';
    const shortPath = path.split('?')[0].slice(0, 200);
    let provider: string | undefined;
    let reported = false;
    const report = (call: Omit<ModelCall, 'path'>) => {
      if (reported) return;
      reported = true;
      opts.onCall?.({ path: shortPath, ...(provider ? { provider } : {}), ...call });
    };
    // One answer per call: a later failure (the upstream erroring after a 413) changes nothing.
    const fail = (status: number, type: string, message: string, headers: http.OutgoingHttpHeaders = {}, unmetered?: string) => {
      if (reported) return;
      report({ status, refused: message, ...(unmetered ? { unmetered } : {}) });
      if (res.headersSent) return void res.destroy();
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify({ type: 'error', error: { type, message } }));
    };
    const presented = Buffer.from(String(req.headers['x-api-key'] ?? String(req.headers.authorization ?? '').replace(/^Bearer\s+/i, '')));
    if (revoked || presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
      return fail(401, 'authentication_error', `${PREFIX} invalid or revoked container token.`);
    }
    if (req.method !== 'POST') return fail(403, 'permission_error', `${PREFIX} ${req.method} ${shortPath} is not a model endpoint this agent may use (model calls are POST).`);
    const target = routes.resolve(path);
    if ('status' in target) {
      provider = target.provider;
      return fail(target.status, target.type, `${PREFIX} ${target.message}`);
    }
    const { route, upstreamPath } = target;
    provider = route.name;
    const tooLarge = `${PREFIX} the request body is larger than ${maxBody} bytes (model.maxRequestBytes). Start a new conversation or send smaller files.`;
    // Closing the connection drops the rest of a body nobody will read.
    if (Number(req.headers['content-length']) > maxBody) return fail(413, 'request_too_large', tooLarge, { connection: 'close' });

    const gone = new AbortController();
    res.on('close', () => gone.abort());
    const release = await gate.enter(gone.signal);
    if (!release) {
      if (gone.signal.aborted) return report({ status: 499, refused: 'the client went away while waiting for a free call slot' });
      // 429 with retry-after: the SDK waits and retries, which is what a full line needs.
      return fail(429, 'rate_limit_error', `${PREFIX} ${gate.limit} model calls are in flight and ${gate.maxWaiting} waiting for this agent (model.maxCallsInFlight); retry shortly.`, { 'retry-after': '2' });
    }
    res.on('close', release);
    if (gone.signal.aborted) {
      release();
      return report({ status: 499, refused: 'the client went away before the call left' });
    }
    // Both may have changed while the call waited in line.
    if (revoked) return fail(401, 'authentication_error', `${PREFIX} invalid or revoked container token.`);
    const overBudget = opts.checkBudget?.(route.name);
    // 403, not 429: the engine retries 429s, and a spent budget does not come back in seconds.
    if (overBudget) return fail(403, 'permission_error', overBudget);
    opts.onRequest?.(path);

    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!DROP.has(k)) headers[k] = v;
    Object.assign(headers, credentialHeaders(route));
    headers.host = route.url.host;
    // The meter must read the answer; a compressed one is decoded below all the same.
    headers['accept-encoding'] = 'identity';

    if (route.kind === 'anthropic') return void streamRequest(route, upstreamPath, headers);
    // An OpenAI-compatible request is read whole: a streamed one must be made to ask for its usage.
    const raw = await readBody(req, maxBody);
    if (raw === 'too large') return fail(413, 'request_too_large', tooLarge, { connection: 'close' });
    if (raw === 'gone') return report({ status: 499, refused: 'the client went away before its request body arrived' });
    if (revoked) return fail(401, 'authentication_error', `${PREFIX} invalid or revoked container token.`);
    const body = requireStreamedUsage(raw);
    if (typeof body === 'string') return fail(400, 'invalid_request_error', `${PREFIX} ${body}`);
    headers['content-length'] = body.length;
    openUpstream(route, upstreamPath, headers).end(body);

    /** The request body passed on as it arrives, cut at maxBody. */
    function streamRequest(route: ResolvedRoute, upstreamPath: string, headers: http.OutgoingHttpHeaders): void {
      const up = openUpstream(route, upstreamPath, headers);
      let sent = 0;
      req.on('data', (chunk: Buffer) => {
        sent += chunk.length;
        if (sent > maxBody) {
          req.pause();
          up.destroy();
          return fail(413, 'request_too_large', tooLarge, { connection: 'close' });
        }
        if (!up.write(chunk)) req.pause();
      });
      up.on('drain', () => req.resume());
      req.on('end', () => { if (sent <= maxBody) up.end(); });
    }

    function openUpstream(route: ResolvedRoute, upstreamPath: string, headers: http.OutgoingHttpHeaders): http.ClientRequest {
      const { url } = route;
      const up = (url.protocol === 'https:' ? https : http).request({
        protocol: url.protocol, hostname: url.hostname, port: url.port || undefined,
        method: 'POST', path: upstreamPath, headers,
      }, (upRes) => forwardAnswer(route, up, upRes));
      inFlight.add(up);
      let timedOut = false;
      up.setTimeout(timeoutMs, () => {
        timedOut = true;
        up.destroy(new Error(`no data either way for ${Math.round(timeoutMs / 1000)} s, model.timeoutSec`));
      });
      up.on('error', (err) => {
        inFlight.delete(up);
        // Mid-answer, the answer's own end reports the call (with the usage read so far).
        if (res.headersSent) return void res.destroy();
        fail(timedOut ? 504 : 502, 'api_error', `${PREFIX} the model endpoint ${url.origin} (provider "${route.name}") did not answer (${err.message}).`);
      });
      up.on('close', () => inFlight.delete(up));
      res.on('close', () => { if (!res.writableFinished) up.destroy(); });
      return up;
    }

    function forwardAnswer(route: ResolvedRoute, up: http.ClientRequest, upRes: http.IncomingMessage): void {
      const status = upRes.statusCode ?? 502;
      // A cut connection is handled through `body` and `up`; without a listener it would throw.
      upRes.on('error', () => {});
      const encoding = String(upRes.headers['content-encoding'] ?? '').trim().toLowerCase();
      let body: Readable = upRes;
      const outHeaders = filterResponseHeaders(upRes.headers);
      if (encoding && encoding !== 'identity') {
        const decoder = decoderFor(encoding);
        if (!decoder) {
          up.destroy();
          return fail(502, 'api_error', `${PREFIX} the model endpoint answered with content-encoding "${encoding.slice(0, 40)}" although it was asked for none, and the proxy cannot read it to count usage. Check that provider "${route.name}"'s base URL points at the API itself, not at something that re-compresses.`,
            { 'x-should-retry': 'false' }, `an answer in content-encoding "${encoding.slice(0, 40)}"`);
        }
        body = upRes.pipe(decoder);
        upRes.on('error', (err) => decoder.destroy(err));
        delete outHeaders['content-encoding'];
        delete outHeaders['content-length'];
      }
      res.writeHead(status, outHeaders);
      const meter = new UsageMeter(String(upRes.headers['content-type'] ?? ''), route.kind, opts.onText);
      let broken: string | undefined;
      let settled = false;
      // Once, whichever comes first: the end, an error, or a cut (revoke, client gone).
      // Usage seen before a cut still counts: the upstream bills the input either way.
      const settle = () => {
        if (settled) return;
        settled = true;
        const u: MeteredUsage = { provider: route.name, ...meter.total() };
        const metered = u.inputTokens + u.outputTokens + u.cacheWriteTokens + u.cacheReadTokens > 0;
        if (status === 200 && metered) opts.onUsage?.(u);
        const isCompletion = !shortPath.endsWith('/count_tokens');
        const unmetered = status === 200 && isCompletion && !metered ? (broken ?? meter.problem()) : undefined;
        const streamError = status === 200 ? meter.streamError : undefined;
        report({ status, ...u, ...(unmetered ? { unmetered } : {}), ...(streamError ? { streamError } : {}) });
      };
      body.on('data', (chunk: Buffer) => {
        meter.push(chunk);
        if (!res.write(chunk)) body.pause();
      });
      res.on('drain', () => body.resume());
      body.on('end', () => { res.end(); settle(); });
      body.on('error', (err) => {
        broken = `the answer could not be decoded (${encoding || 'identity'}): ${err.message}`;
        res.destroy();
        settle();
      });
      body.on('close', settle);
      res.on('close', settle);
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // A bug here must cost one call, never the gateway.
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: `${PREFIX} internal error (${(err as Error).message}).` } }));
      } else res.destroy();
    });
  });

  rmSync(opts.socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.socketPath, () => resolve());
  });
  // The container's user is not ours; the socket's folder is private to this container.
  chmodSync(opts.socketPath, 0o666);

  return {
    revoke() {
      revoked = true;
      for (const r of inFlight) r.destroy();
    },
    get listening() { return server.listening && !revoked; },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** A whole request body, or why there is none: over `max` bytes, or the client went away first. */
function readBody(req: http.IncomingMessage, max: number): Promise<Buffer | 'too large' | 'gone'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.pause();
        return resolve('too large');
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve('gone'));
    req.on('close', () => resolve('gone'));
  });
}

function filterResponseHeaders(h: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) if (!['connection', 'keep-alive', 'transfer-encoding'].includes(k)) out[k] = v;
  return out;
}

/** The decoders HTTP's content codings need; undefined for one the proxy cannot read. */
function decoderFor(encoding: string): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | zlib.ZstdDecompress | undefined {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip();
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    case 'zstd':
      return typeof zlib.createZstdDecompress === 'function' ? zlib.createZstdDecompress() : undefined;
    default:
      return undefined;
  }
}
