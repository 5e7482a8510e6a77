import http from 'node:http';
import { LineReader } from '../../protocol/lines.ts';

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

  /**
   * A GET that streams JSON lines (the engine's `/events`): `onLine` gets each
   * one parsed; lines that are not JSON or over 64 KiB end the stream. The
   * promise settles when the stream ends; `signal` ends it from this side.
   *
   *   await api.stream('/events', { filters }, (ev) => ..., controller.signal);
   */
  stream(path: string, query: Record<string, string>, onLine: (value: any) => void, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const req = http.request({ socketPath: this.socketPath, method: 'GET', path: `${path}?${new URLSearchParams(query)}`, agent: false, signal }, (res) => {
        if ((res.statusCode ?? 0) >= 400) {
          res.resume();
          return reject(new EngineApiError(res.statusCode ?? 0, `(HTTP ${res.statusCode}) GET ${path}`));
        }
        const lines = new LineReader(64 * 1024);
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const { lines: complete, tooLong } = lines.push(chunk);
          try {
            for (const line of complete) onLine(JSON.parse(line));
          } catch (err) {
            return req.destroy(err as Error);
          }
          if (tooLong) req.destroy(new Error(`GET ${path}: a line over 64 KiB`));
        });
        res.on('end', () => resolve());
        res.on('error', reject);
      });
      req.on('error', (err) => (signal.aborted ? resolve() : reject(err)));
      req.end();
    });
  }
}

/**
 * A container's memory use and process count, from the engine's stats call
 * (Docker's and Podman's compatible one), for the dashboard. `one-shot`
 * skips the second CPU sample, which would cost a second per container.
 * Fields the engine leaves out (gVisor reports less) are null.
 *
 *   await containerStats(api, 'nanoclaw-c-1')  // { memoryBytes: 31457280, memoryLimitBytes: 536870912, pids: 9 }
 */
export async function containerStats(api: EngineApi, name: string): Promise<ContainerStats> {
  const s = await api.request<any>('GET', `/containers/${encodeURIComponent(name)}/stats`, { query: { stream: false, 'one-shot': true }, timeoutMs: 5000 });
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  return { memoryBytes: num(s?.memory_stats?.usage), memoryLimitBytes: num(s?.memory_stats?.limit), pids: num(s?.pids_stats?.current) };
}

export interface ContainerStats {
  memoryBytes: number | null;
  memoryLimitBytes: number | null;
  pids: number | null;
}
