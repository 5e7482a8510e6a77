import net from 'node:net';

/**
 * The container has no network, so the engine reaches the model through a
 * loopback listener that pipes each connection to the host's credential proxy
 * socket. The engine sees an ordinary `http://127.0.0.1:<port>` base URL.
 *
 *   const { url } = await startModelBridge('/run/nanoclaw/model.sock');          // a free port
 *   await startModelBridge('/run/nanoclaw/egress.sock', CONTAINER_EGRESS_PORT);  // a fixed one
 */
export async function startModelBridge(socketPath: string, port = 0): Promise<{ url: string; close(): void }> {
  const server = net.createServer((client) => {
    const upstream = net.connect(socketPath);
    client.pipe(upstream).pipe(client);
    const end = () => { client.destroy(); upstream.destroy(); };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const bound = (server.address() as net.AddressInfo).port;
  return { url: `http://127.0.0.1:${bound}`, close: () => server.close() };
}
