import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Server as McpServer } from '../../runner/node_modules/@modelcontextprotocol/sdk/dist/esm/server/index.js';
import type { StreamableHTTPServerTransport } from '../../runner/node_modules/@modelcontextprotocol/sdk/dist/esm/server/streamableHttp.js';

/** A Streamable HTTP MCP server on the host, built from the MCP SDK's own server classes. */
export interface McpHttpServer {
  /** The MCP endpoint, e.g. http://127.0.0.2:41234/mcp. */
  url: string;
  port: number;
  /** The tool calls it ran, in order. */
  calls: Array<{ tool: string; args: unknown }>;
  /** Every HTTP request that reached it (method and path). */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Starts a Streamable HTTP MCP server with one tool, `reverse {text}`, whose
 * answer names this server ("web-mcp"), so a reply shows which server ran
 * it. Stateless: a fresh MCP server per request, as the SDK recommends for
 * servers without sessions. The SDK lives in runner/node_modules only (the
 * runner's dependency), so it is loaded from there at run time.
 *
 *   const mcp = await startMcpHttpServer('127.0.0.2');
 *   // config: { mcp: { servers: { web: { url: mcp.url } } } }
 */
export async function startMcpHttpServer(host = '127.0.0.1'): Promise<McpHttpServer> {
  const sdk = (path: string) => import(new URL(`../../../runner/node_modules/@modelcontextprotocol/sdk/dist/esm/${path}`, import.meta.url).href);
  const [{ Server }, { StreamableHTTPServerTransport: Transport }, types] = await Promise.all([
    sdk('server/index.js'), sdk('server/streamableHttp.js'), sdk('types.js'),
  ]);
  const calls: McpHttpServer['calls'] = [];
  const requests: string[] = [];

  const mcpServer = (): McpServer => {
    const server: McpServer = new Server({ name: 'web', version: '1.0.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(types.ListToolsRequestSchema, async () => ({
      tools: [{
        name: 'reverse', description: 'Reverses a text; the answer names this server.',
        inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
      }],
    }));
    server.setRequestHandler(types.CallToolRequestSchema, async (req: any) => {
      calls.push({ tool: req.params.name, args: req.params.arguments });
      if (req.params.name !== 'reverse') return { content: [{ type: 'text', text: `no tool named ${req.params.name}` }], isError: true };
      const text = String(req.params.arguments?.text ?? '');
      return { content: [{ type: 'text', text: `reversed: ${[...text].reverse().join('')} (web-mcp)` }] };
    });
    return server;
  };

  const http: HttpServer = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.method !== 'POST' || req.url !== '/mcp') {
      res.writeHead(req.url === '/mcp' ? 405 : 404, { allow: 'POST' }).end();
      return;
    }
    const server = mcpServer();
    const transport: StreamableHTTPServerTransport = new Transport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => { void transport.close(); void server.close(); });
    server.connect(transport)
      .then(() => transport.handleRequest(req, res))
      .catch((err: Error) => { if (!res.headersSent) res.writeHead(500).end(err.message); });
  });
  await new Promise<void>((resolve, reject) => { http.once('error', reject); http.listen(0, host, () => resolve()); });
  const port = (http.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}/mcp`, port, calls, requests,
    close: () => new Promise((resolve) => { http.closeAllConnections(); http.close(() => resolve()); }),
  };
}
