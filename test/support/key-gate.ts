import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An OpenAI-compatible endpoint that checks keys the way a hosted service
 * does: a request with `Authorization: Bearer <key>` is passed on to the
 * stand-in behind it, any other gets 401 with OpenAI's error body.
 *
 *   const gate = await startKeyGate(fake.url, 'sk-right');
 *   // GET `${gate.baseUrl}/models` with Bearer sk-wrong -> 401 invalid_api_key
 */
export async function startKeyGate(upstream: string, key: string): Promise<{ url: string; baseUrl: string; refused: number; close(): Promise<void> }> {
  const target = new URL(upstream);
  const state = { refused: 0 };
  const server = createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${key}`) {
      state.refused++;
      const body = JSON.stringify({ error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
      res.writeHead(401, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      return void res.end(body);
    }
    const forward = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url, baseUrl: `${url}/v1`,
    get refused() { return state.refused; },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
