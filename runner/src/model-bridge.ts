import net from 'node:net';

/**
 * The container has no network, so the engine reaches the model through a
 * loopback listener that pipes each connection to the host's credential proxy
 * socket. The engine sees an ordinary `http://127.0.0.1:<port>` base URL.
 *
 *   const { url } = await startModelBridge('/run/nanoclaw/model.sock');
 */
export async function startModelBridge(socketPath: string): Promise<{ url: string; close(): void }> {
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
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
}
