import { chmodSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { timingSafeEqual } from 'node:crypto';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { CallGate } from './call-gate.ts';
import type { MeteredUsage } from './pricing.ts';
import { UsageMeter } from './usage-meter.ts';

/**
 * The model path out of a container. Each container gets its own proxy on a
 * Unix socket in its run folder; the container presents its per-container
 * token, the proxy swaps it for the real API key and forwards to the
 * configured endpoint. The real key exists only in this process.
 *
 * Only the model endpoints the engine needs are forwarded, with limits the
 * agent cannot lift: a few calls in flight (more wait in line, and past the
 * line get 429), a request body cap (413) and an upstream that stays silent
 * too long is cut (504). Usage, cache tokens included, is read from the
 * answers as they stream past; the proxy asks upstream for an uncompressed
 * body and decodes one that comes compressed anyway, so nothing goes
 * unmetered in silence (an answer it cannot read is reported as `unmetered`).
 *
 *   const proxy = await startCredentialProxy({ socketPath, token, upstream, apiKey, onUsage });
 *   proxy.revoke(); await proxy.close();
 */
export interface CredentialProxyOptions {
  socketPath: string;
  token: string;
  upstream: string;
  apiKey: string;
  /** Each answered call's tokens by kind, and the model that answered. */
  onUsage?: (usage: MeteredUsage) => void;
  /** Called as each allowed request starts (benchmarks time the first one). */
  onRequest?: (path: string) => void;
  /** Asked before each model call leaves; a string refuses the call with that message (budgets). */
  checkBudget?: () => string | undefined;
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

/** One call as the audit log records it. */
export type ModelCall = Partial<MeteredUsage> & {
  path: string;
  status: number;
  /** The proxy answered itself: the message the agent got. */
  refused?: string;
  /** The call was answered but its usage could not be read: why. */
  unmetered?: string;
};

export interface CredentialProxy {
  /** Makes the token useless from now on; in-flight streams are cut. */
  revoke(): void;
  close(): Promise<void>;
}

const ALLOWED = [/^\/v1\/messages(\?.*)?$/, /^\/v1\/messages\/count_tokens(\?.*)?$/];
// Hop-by-hop and credential headers are never passed through; accept-encoding is set by the proxy.
const DROP = new Set(['host', 'connection', 'keep-alive', 'proxy-authorization', 'transfer-encoding', 'upgrade', 'x-api-key', 'authorization', 'content-length', 'accept-encoding', 'te']);
const PREFIX = 'NanoClaw credential proxy:';

export async function startCredentialProxy(opts: CredentialProxyOptions): Promise<CredentialProxy> {
  let revoked = false;
  const expected = Buffer.from(opts.token);
  const upstream = new URL(opts.upstream);
  const basePath = upstream.pathname.replace(/\/$/, '');
  const client = upstream.protocol === 'https:' ? https : http;
  const inFlight = new Set<http.ClientRequest>();
  const gate = new CallGate(opts.maxInFlight ?? 2, opts.maxWaiting ?? 16);
  const maxBody = opts.maxRequestBytes ?? 32 * 1024 * 1024;
  const timeoutMs = opts.timeoutMs ?? 600_000;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = req.url ?? '/';
    const shortPath = path.split('?')[0].slice(0, 200);
    let reported = false;
    const report = (call: Omit<ModelCall, 'path'>) => {
      if (reported) return;
      reported = true;
      opts.onCall?.({ path: shortPath, ...call });
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
    if (req.method !== 'POST' || !ALLOWED.some((re) => re.test(path))) {
      return fail(403, 'permission_error', `${PREFIX} ${req.method} ${shortPath} is not a model endpoint this agent may use.`);
    }
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
    const overBudget = opts.checkBudget?.();
    // 403, not 429: the engine retries 429s, and a spent budget does not come back in seconds.
    if (overBudget) return fail(403, 'permission_error', overBudget);
    opts.onRequest?.(path);

    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!DROP.has(k)) headers[k] = v;
    headers['x-api-key'] = opts.apiKey;
    headers.host = upstream.host;
    // The meter must read the answer; a compressed one is decoded below all the same.
    headers['accept-encoding'] = 'identity';

    const up = client.request({
      protocol: upstream.protocol, hostname: upstream.hostname, port: upstream.port || undefined,
      method: 'POST', path: basePath + path, headers,
    }, (upRes) => forwardAnswer(upRes));
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
      fail(timedOut ? 504 : 502, 'api_error', `${PREFIX} the model endpoint ${upstream.origin} did not answer (${err.message}).`);
    });
    up.on('close', () => inFlight.delete(up));
    res.on('close', () => { if (!res.writableFinished) up.destroy(); });

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

    function forwardAnswer(upRes: http.IncomingMessage): void {
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
          return fail(502, 'api_error', `${PREFIX} the model endpoint answered with content-encoding "${encoding.slice(0, 40)}" although it was asked for none, and the proxy cannot read it to count usage. Check model.baseUrl points at the API itself, not at something that re-compresses.`,
            { 'x-should-retry': 'false' }, `an answer in content-encoding "${encoding.slice(0, 40)}"`);
        }
        body = upRes.pipe(decoder);
        upRes.on('error', (err) => decoder.destroy(err));
        delete outHeaders['content-encoding'];
        delete outHeaders['content-length'];
      }
      res.writeHead(status, outHeaders);
      const meter = new UsageMeter(String(upRes.headers['content-type'] ?? ''));
      let broken: string | undefined;
      let settled = false;
      // Once, whichever comes first: the end, an error, or a cut (revoke, client gone).
      // Usage seen before a cut still counts: the upstream bills the input either way.
      const settle = () => {
        if (settled) return;
        settled = true;
        const u = meter.total();
        const metered = u.inputTokens + u.outputTokens + u.cacheWriteTokens + u.cacheReadTokens > 0;
        if (status === 200 && metered) opts.onUsage?.(u);
        const isMessages = !shortPath.endsWith('/count_tokens');
        const unmetered = status === 200 && isMessages && !metered ? (broken ?? meter.problem()) : undefined;
        report({ status, ...u, ...(unmetered ? { unmetered } : {}) });
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
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
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
