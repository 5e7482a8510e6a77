import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One transcription request as the stand-in parsed it. */
export interface TranscriptionCall {
  authorization: string | undefined;
  model: string;
  responseFormat: string;
  fileName: string;
  fileType: string;
  file: Buffer;
}

/**
 * A local OpenAI-compatible transcription service (`POST /v1/audio/transcriptions`,
 * multipart form data), speaking the wire a real one does: it refuses a
 * missing or wrong bearer token with 401 and a request that is not multipart
 * with a `file` and a `model` with 400, records what it received, and answers
 * `{ text, duration }`. `failNext` makes it answer an error status instead.
 *
 *   const stt = await TranscriptionStandIn.start({ key: 'sk-stt-test' });
 *   // config: { transcription: { baseUrl: stt.url } }, env: { TRANSCRIPTION_API_KEY: stt.key }
 *   stt.answer = (call) => ({ text: 'buy milk', duration: 3 });
 */
export class TranscriptionStandIn {
  readonly calls: TranscriptionCall[] = [];
  /** What a valid request is answered with. */
  answer: (call: TranscriptionCall) => { text: string; duration?: number } = () => ({ text: 'hello from a voice note' });
  private failures: number[] = [];

  private constructor(private readonly server: Server, readonly key: string) {}

  static async start(opts: { key?: string } = {}): Promise<TranscriptionStandIn> {
    let standIn!: TranscriptionStandIn;
    const server = createServer((req, res) => void standIn.serve(req, res));
    standIn = new TranscriptionStandIn(server, opts.key ?? 'sk-stt-test-0123456789');
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return standIn;
  }

  /** The base URL to configure (`transcription.baseUrl`), ending in /v1. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  /** The next `n` valid requests are answered with `status`. */
  failNext(status: number, n = 1): void {
    for (let i = 0; i < n; i++) this.failures.push(status);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    if (req.method !== 'POST' || req.url !== '/v1/audio/transcriptions') return reply(res, 404, { error: { message: 'not found' } });
    if (req.headers.authorization !== `Bearer ${this.key}`) return reply(res, 401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } });
    const boundary = /^multipart\/form-data;\s*boundary=(?:"([^"]+)"|([^;]+))/i.exec(req.headers['content-type'] ?? '');
    if (!boundary) return reply(res, 400, { error: { message: 'expected multipart/form-data' } });
    const parts = multipart(body, boundary[1] ?? boundary[2]);
    const file = parts.find((p) => p.name === 'file' && p.filename !== undefined);
    const model = parts.find((p) => p.name === 'model')?.data.toString('utf8');
    if (!file || !model) return reply(res, 400, { error: { message: 'file and model are required' } });
    const call: TranscriptionCall = {
      authorization: req.headers.authorization, model, responseFormat: parts.find((p) => p.name === 'response_format')?.data.toString('utf8') ?? '',
      fileName: file.filename!, fileType: file.type ?? '', file: file.data,
    };
    this.calls.push(call);
    const failure = this.failures.shift();
    if (failure) return reply(res, failure, { error: { message: 'the stand-in was told to fail' } });
    reply(res, 200, this.answer(call));
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** The parts of a multipart/form-data body: each part's name, file name, type and bytes. */
function multipart(body: Buffer, boundary: string): Array<{ name?: string; filename?: string; type?: string; data: Buffer }> {
  const delimiter = Buffer.from(`--${boundary}`);
  const out: Array<{ name?: string; filename?: string; type?: string; data: Buffer }> = [];
  let pos = body.indexOf(delimiter);
  while (pos >= 0) {
    const start = pos + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, start);
    if (next < 0) break;
    const part = body.subarray(start + 2, next - 2); // after CRLF, before the CRLF that precedes the next delimiter
    const split = part.indexOf('\r\n\r\n');
    const head = part.subarray(0, split).toString('utf8');
    const disposition = /content-disposition:[^\r\n]*/i.exec(head)?.[0] ?? '';
    out.push({
      name: /\bname="([^"]*)"/.exec(disposition)?.[1],
      filename: /\bfilename="([^"]*)"/.exec(disposition)?.[1],
      type: /content-type:\s*([^\r\n]+)/i.exec(head)?.[1],
      data: part.subarray(split + 4),
    });
    pos = next;
  }
  return out;
}
