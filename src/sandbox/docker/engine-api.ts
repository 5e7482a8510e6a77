import http from 'node:http';

/** An error answer from the engine, with its HTTP status and the engine's message. */
export class EngineApiError extends Error {
  override name = 'EngineApiError';
  constructor(readonly statusCode: number, message: string) {
    super(message);
  }
}

/**
 * The Docker Engine API (and Podman's Docker-compatible one) over its Unix
 * socket: JSON in, JSON out, nothing else. The gateway needs eight calls, and
 * a general client library cost it ~15 MiB of idle memory and a gRPC stack
 * it never used; this is the whole transport.
 *
 * The request body is only ever sent as a body: container options carry the
 * per-container token, and must never end up in a URL that engine logs or
 * proxies record.
 *
 *   const api = new EngineApi('/var/run/docker.sock');
 *   const v = await api.request<{ Version: string }>('GET', '/version');
 */
export class EngineApi {
  constructor(readonly socketPath: string) {}

  request<T = any>(method: string, path: string, opts: { query?: Record<string, string | number | boolean>; body?: unknown; timeoutMs?: number } = {}): Promise<T> {
    const qs = opts.query ? `?${new URLSearchParams(Object.entries(opts.query).map(([k, v]) => [k, String(v)]))}` : '';
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    return new Promise<T>((resolve, reject) => {
      const req = http.request({
        // A connection per request: long-polls (wait) and engines that close
        // idle connections (Podman) must not meet a reused, half-closed socket.
        socketPath: this.socketPath, method, path: path + qs, agent: false,
        headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
        timeout: opts.timeoutMs,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status >= 400) {
            let message = text.trim();
            try { message = JSON.parse(text).message ?? message; } catch { /* plain text */ }
            return reject(new EngineApiError(status, `(HTTP ${status}) ${message}`));
          }
          if (!text) return resolve(undefined as T);
          try { resolve(JSON.parse(text) as T); } catch { resolve(text as T); }
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${opts.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}
