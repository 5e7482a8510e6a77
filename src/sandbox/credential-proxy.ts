import { chmodSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { timingSafeEqual } from 'node:crypto';

/**
 * The model path out of a container. Each container gets its own proxy on a
 * Unix socket in its run folder; the container presents its per-container
 * token, the proxy swaps it for the real API key and forwards to the
 * configured endpoint. The real key exists only in this process.
 *
 * Only the model endpoints the engine needs are forwarded. Usage is read from
 * the responses as they stream past (the `usage` fields of `message_start`,
 * `message_delta` and whole Message bodies).
 *
 *   const proxy = await startCredentialProxy({ socketPath, token, upstream, apiKey, onUsage });
 *   proxy.revoke(); await proxy.close();
 */
export interface CredentialProxyOptions {
  socketPath: string;
  token: string;
  upstream: string;
  apiKey: string;
  onUsage?: (usage: { inputTokens: number; outputTokens: number }) => void;
  /** Called as each allowed request starts (benchmarks time the first one). */
  onRequest?: (path: string) => void;
  /** Asked before each model call; a string refuses the call with that message (budgets). */
  checkBudget?: () => string | undefined;
  /** Every call, forwarded or refused, for the audit log. */
  onCall?: (call: { path: string; status: number; inputTokens?: number; outputTokens?: number; refused?: string }) => void;
}

export interface CredentialProxy {
  /** Makes the token useless from now on; in-flight streams are cut. */
  revoke(): void;
  close(): Promise<void>;
}

const ALLOWED = [/^\/v1\/messages(\?.*)?$/, /^\/v1\/messages\/count_tokens(\?.*)?$/];
// Hop-by-hop and credential headers are never passed through.
const DROP = new Set(['host', 'connection', 'keep-alive', 'proxy-authorization', 'transfer-encoding', 'upgrade', 'x-api-key', 'authorization', 'content-length']);

export async function startCredentialProxy(opts: CredentialProxyOptions): Promise<CredentialProxy> {
  let revoked = false;
  const expected = Buffer.from(opts.token);
  const upstream = new URL(opts.upstream);
  const basePath = upstream.pathname.replace(/\/$/, '');
  const client = upstream.protocol === 'https:' ? https : http;
  const inFlight = new Set<http.ClientRequest>();

  const server = http.createServer((req, res) => {
    const fail = (status: number, type: string, message: string) => {
      opts.onCall?.({ path: (req.url ?? '/').split('?')[0].slice(0, 200), status, refused: message });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type, message } }));
    };
    const presented = Buffer.from(String(req.headers['x-api-key'] ?? String(req.headers.authorization ?? '').replace(/^Bearer\s+/i, '')));
    if (revoked || presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
      return fail(401, 'authentication_error', 'NanoClaw credential proxy: invalid or revoked container token.');
    }
    const path = req.url ?? '/';
    if (req.method !== 'POST' || !ALLOWED.some((re) => re.test(path))) {
      return fail(403, 'permission_error', `NanoClaw credential proxy: ${req.method} ${path.split('?')[0]} is not a model endpoint this agent may use.`);
    }
    const overBudget = opts.checkBudget?.();
    // 403, not 429: the engine retries 429s, and a spent budget does not come back in seconds.
    if (overBudget) return fail(403, 'permission_error', overBudget);
    opts.onRequest?.(path);
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!DROP.has(k)) headers[k] = v;
    headers['x-api-key'] = opts.apiKey;
    headers.host = upstream.host;

    const up = client.request({
      protocol: upstream.protocol, hostname: upstream.hostname, port: upstream.port || undefined,
      method: 'POST', path: basePath + path, headers,
    }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, filterResponseHeaders(upRes.headers));
      const meter = new UsageMeter(String(upRes.headers['content-type'] ?? ''));
      upRes.on('data', (chunk: Buffer) => { meter.push(chunk); res.write(chunk); });
      upRes.on('end', () => {
        inFlight.delete(up);
        res.end();
        const u = meter.total();
        if (upRes.statusCode === 200 && (u.inputTokens || u.outputTokens)) opts.onUsage?.(u);
        opts.onCall?.({ path: path.split('?')[0], status: upRes.statusCode ?? 0, ...u });
      });
      upRes.on('error', () => res.destroy());
    });
    inFlight.add(up);
    up.on('error', (err) => {
      inFlight.delete(up);
      if (!res.headersSent) fail(502, 'api_error', `NanoClaw credential proxy: the model endpoint ${upstream.origin} did not answer (${err.message}).`);
      else res.destroy();
    });
    req.pipe(up);
    res.on('close', () => { if (!res.writableFinished) up.destroy(); });
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

/** Reads token usage from a Messages API response body, streamed (SSE) or whole (JSON). */
export class UsageMeter {
  private input = 0;
  private output = 0;
  private buffer = '';
  private readonly sse: boolean;

  constructor(contentType: string) {
    this.sse = contentType.includes('text/event-stream');
  }

  push(chunk: Buffer): void {
    this.buffer += chunk.toString('utf8');
    if (!this.sse) return;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line.startsWith('data:')) this.read(line.slice(5));
    }
  }

  total(): { inputTokens: number; outputTokens: number } {
    if (!this.sse && this.buffer) this.read(this.buffer);
    this.buffer = '';
    return { inputTokens: this.input, outputTokens: this.output };
  }

  private read(json: string): void {
    try {
      const ev = JSON.parse(json);
      const usage = ev?.message?.usage ?? ev?.usage;
      if (!usage) return;
      if (typeof usage.input_tokens === 'number') this.input = Math.max(this.input, usage.input_tokens);
      if (typeof usage.output_tokens === 'number') this.output = Math.max(this.output, usage.output_tokens);
    } catch { /* not JSON: not ours to judge */ }
  }
}
