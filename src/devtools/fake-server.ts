import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What the model API stand-ins (fake-anthropic.ts, fake-openai.ts) share:
 * an HTTP server on loopback and a free port, every request recorded and
 * announced as a `request` event, answers held back (latency, `sleep:`)
 * cancelled on close, and a handler that throws answered with a 500 in the
 * API's own error shape instead of killing the test process. A subclass says
 * how to answer (`handle`) and how its API words an internal error.
 *
 *   class FakeThing extends FakeApiServer<Recorded> { protected async handle(req, res) { ... } ... }
 *   const fake = await new FakeThing({ port: 0 }, 'fake Thing API').listen();
 */
export abstract class FakeApiServer<R extends { method: string; path: string }> extends EventEmitter<{ request: [R] }> {
  /** The server's root, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  url = '';
  readonly requests: R[] = [];
  /** Answers being held back (hold); each cancels its own wait. */
  protected readonly pending = new Set<() => void>();
  readonly #server = createServer((req, res) => {
    this.handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      this.internalError(res, `${this.label} failed on ${req.method} ${req.url}: ${err instanceof Error ? err.message : String(err)}`);
    });
  });

  constructor(private readonly where: { port?: number; host?: string }, private readonly label: string) {
    super();
  }

  protected abstract handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Answers 500 with `message`, in the API's error shape. */
  protected abstract internalError(res: ServerResponse, message: string): void;

  /** Starts listening; resolves once `url` is set. */
  async listen(): Promise<this> {
    const { port = 0, host = '127.0.0.1' } = this.where;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => resolve());
    });
    const address = this.#server.address() as AddressInfo;
    const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.url = `http://${hostPart}:${address.port}`;
    return this;
  }

  /**
   * Resolves with the recorded requests once at least `n` have arrived.
   *
   *   const [first] = await fake.waitForRequests(1, 5000);
   */
  waitForRequests(n: number, timeoutMs: number): Promise<R[]> {
    if (this.requests.length >= n) return Promise.resolve([...this.requests]);
    return new Promise((resolve, reject) => {
      const onRequest = () => {
        if (this.requests.length < n) return;
        clearTimeout(timer);
        this.off('request', onRequest);
        resolve([...this.requests]);
      };
      const timer = setTimeout(() => {
        this.off('request', onRequest);
        const seen = this.requests.map((r) => `${r.method} ${r.path}`).join(', ') || 'none';
        reject(new Error(`${this.label}: waited ${timeoutMs} ms for ${n} request(s), got ${this.requests.length} (${seen})`));
      }, timeoutMs);
      this.on('request', onRequest);
    });
  }

  /** Waits `ms` before an answer; false if the client went away or the server closed meanwhile. */
  protected hold(res: ServerResponse, ms: number): Promise<boolean> {
    if (ms <= 0) return Promise.resolve(!res.destroyed);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        res.off('close', gone);
        this.pending.delete(cancel);
        resolve(ok);
      };
      const timer = setTimeout(() => done(!res.destroyed), ms);
      const gone = () => done(false);
      const cancel = () => done(false);
      res.on('close', gone);
      this.pending.add(cancel);
    });
  }

  /** Stops listening, drops held-back answers and open connections (stalled streams too). */
  async close(): Promise<void> {
    for (const cancel of this.pending) cancel();
    this.pending.clear();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }
}
