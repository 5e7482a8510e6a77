/**
 * HTTP Events mode: Slack POSTs events (JSON) and interactive payloads (form-encoded `payload=`)
 * to one URL, which must reach this listener through a public HTTPS front (a reverse proxy or a
 * tunnel). Every request is checked against the signing secret before its body is parsed; the
 * answer is sent once the event is stored, so a failure makes Slack send it again.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../core/logger.ts';
import { verifySlackSignature } from './signature.ts';
import type { ConnectionReport, SlackEventSink } from './socket-mode.ts';

/** Slack's event bodies are a few kilobytes; anything far larger is not from Slack. */
const MAX_BODY = 1024 * 1024;

/**
 * The events listener.
 *
 *   const listener = new SlackHttpEvents({ host: '127.0.0.1', port: 3000, path: '/slack/events', signingSecret, sink, log, report });
 *   await listener.start(); // listener.url is where the front proxy forwards to
 */
export class SlackHttpEvents {
  private server?: http.Server;

  constructor(private readonly opts: { host: string; port: number; path: string; signingSecret: string; sink: SlackEventSink; log: Logger; report: ConnectionReport }) {}

  /** The listener's own address (after start), e.g. http://127.0.0.1:3000/slack/events. */
  get url(): string {
    const a = this.server?.address() as AddressInfo | null;
    return a ? `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}${this.opts.path}` : '';
  }

  /** Starts listening; a port in use is reported as `failed` with what to change, not thrown. */
  async start(): Promise<void> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    this.server = server;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.opts.port, this.opts.host, () => { server.off('error', reject); resolve(); });
      });
    } catch (err) {
      this.server = undefined;
      this.opts.report('failed', `cannot listen on ${this.opts.host}:${this.opts.port} for Slack events: ${(err as Error).message}`,
        'set channels.slack.http.port (or host) to a free address, or stop what uses it, then restart the gateway');
      return;
    }
    this.opts.report('connected');
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const answer = (status: number, body: string, type = 'text/plain') => {
      if (!res.headersSent) res.writeHead(status, { 'content-type': type }).end(body);
    };
    try {
      const path = (req.url ?? '').split('?')[0];
      if (path !== this.opts.path) return answer(404, 'not found');
      if (req.method !== 'POST') return answer(405, 'POST only');
      const body = await readBody(req);
      if (!body) return answer(413, 'too large');
      const signed = verifySlackSignature(this.opts.signingSecret, {
        signature: header(req, 'x-slack-signature'), timestamp: header(req, 'x-slack-request-timestamp'),
      }, body);
      if (!signed) {
        this.opts.log.warn(`slack: refused an events request without a valid signature from ${req.socket.remoteAddress}`);
        return answer(401, 'invalid signature');
      }
      const type = header(req, 'content-type') ?? '';
      if (type.startsWith('application/x-www-form-urlencoded')) {
        const payload = new URLSearchParams(body.toString('utf8')).get('payload');
        let parsed: unknown;
        try { parsed = JSON.parse(payload ?? ''); } catch { return answer(400, 'expected payload=<JSON>'); }
        // Acknowledged first: Slack shows the tapper an error if the answer takes over 3 s.
        answer(200, '');
        await this.opts.sink.interaction(parsed);
        return;
      }
      let parsed: { type?: string; challenge?: unknown; event?: unknown };
      try { parsed = JSON.parse(body.toString('utf8')); } catch { return answer(400, 'expected JSON'); }
      if (parsed?.type === 'url_verification') {
        return answer(200, JSON.stringify({ challenge: typeof parsed.challenge === 'string' ? parsed.challenge : '' }), 'application/json');
      }
      if (parsed?.type === 'event_callback') await this.opts.sink.event(parsed.event);
      answer(200, '');
    } catch (err) {
      this.opts.log.error(`slack: could not take an events request: ${(err as Error)?.message ?? err}`);
      answer(500, 'not stored; send it again');
    }
  }
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The raw body (the signature covers these exact bytes), or null when it is over MAX_BODY. */
async function readBody(req: http.IncomingMessage): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
