import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The two halves of a JSON API the model stand-ins share: a request's whole
 * body as text, and a JSON answer with its length.
 *
 *   const body = JSON.parse(await readBody(req));
 *   sendJson(res, 404, { error: { message: 'Not found' } });
 */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const payload = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}
