import type { Readable } from 'node:stream';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Tool as McpToolListing } from '@modelcontextprotocol/sdk/types.js';
import type { McpServerSpec } from '../../../src/protocol/messages.ts';
import { clipText } from '../engines/builtin/tools/output-clip.ts';
import type { Tool, ToolOutput } from '../engines/builtin/tools/tool.ts';
import { MCP_CALL_TIMEOUT_MS } from './limits.ts';
import { serverEnv } from './server-env.ts';
import { mcpToolName } from './tool-name.ts';
import { toolResultText } from './tool-result-text.ts';

/** How long a server may take to start and answer `initialize`, and each page of `tools/list`. */
const CONNECT_TIMEOUT_MS = 30_000;
/** Most tools taken from one server (and pages read to find them): a server cannot flood the model's prompt. */
const MAX_TOOLS_PER_SERVER = 100;
const MAX_PAGES = 20;
/** Longest tool description passed to the model. */
const MAX_DESCRIPTION = 2000;
/** Most characters of one tool result the model reads (head and tail kept). */
const MAX_RESULT = 30_000;
/** Most lines of a stdio server's stderr logged, and the longest line. */
const MAX_STDERR_LINES = 50;
const MAX_STDERR_LINE = 500;

export interface McpConnectOptions {
  /** The engine's environment: a stdio server gets PATH, HOME, LANG and the proxy variables from it (server-env.ts). */
  env: Readonly<Record<string, string | undefined>>;
  log(level: 'info' | 'warn' | 'error', text: string): void;
  /** Where stdio servers run: the workspace unless told otherwise. */
  cwd?: string;
}

/** The tools of the servers that answered, and how to stop them all. */
export interface McpTools {
  tools: Tool[];
  /** Ends every connection and stdio server process. */
  close(): Promise<void>;
}

/**
 * Connects the built-in engine to the conversation's MCP servers and offers
 * their tools as its own: a stdio server is started in the workspace with a
 * minimal environment (its stderr goes to the log), an HTTP server is
 * reached over Streamable HTTP with the runner's fetch, which goes through
 * the egress proxy. Each tool is named `<server>__<tool>` (tool-name.ts) and
 * keeps the server's JSON schema; a call is bounded in time, stops with the
 * turn, and its result is flattened to text and clipped. A server that
 * fails to start or to list its tools is logged and left out: the engine
 * carries on without its tools.
 *
 * The MCP client library is loaded here and only here, on first use: a
 * conversation without MCP servers never pays for it in memory.
 *
 *   const mcp = await connectMcpTools(opts.mcpServers ?? [], { env: opts.env, log: events.log });
 *   tools.push(...mcp.tools);   // on close: await mcp.close()
 */
export async function connectMcpTools(specs: readonly McpServerSpec[], opts: McpConnectOptions): Promise<McpTools> {
  if (specs.length === 0) return { tools: [], close: async () => {} };
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const seen = new Set<string>();
  const unique = specs.filter((s) => !seen.has(s.name) && seen.add(s.name));
  const connected = await Promise.all(unique.map((spec) => connectServer(new Client({ name: 'nanoclaw', version: '1.0.0' }), spec, opts)));
  const clients: Client[] = [];
  const tools: Tool[] = [];
  const names = new Set<string>();
  for (const server of connected) {
    if (!server) continue;
    clients.push(server.client);
    for (const listing of server.listings) {
      const tool = asTool(server.client, server.name, listing);
      // Two tools whose names differ only in characters the model APIs refuse: the first one wins.
      if (names.has(tool.def.name)) {
        opts.log('warn', `MCP server "${server.name}": tool "${listing.name}" is left out, its name clashes with another as ${tool.def.name}`);
        continue;
      }
      names.add(tool.def.name);
      tools.push(tool);
    }
  }
  return {
    tools,
    async close() {
      await Promise.allSettled(clients.map((c) => c.close()));
    },
  };
}

/** A started, initialized server and its tools; undefined (logged) when it failed. */
async function connectServer(client: Client, spec: McpServerSpec, opts: McpConnectOptions): Promise<{ name: string; client: Client; listings: McpToolListing[] } | undefined> {
  try {
    await client.connect(await openTransport(spec, opts), { timeout: CONNECT_TIMEOUT_MS });
    const listings = await listTools(client, spec.name, opts);
    client.onclose = () => opts.log('warn', `MCP server "${spec.name}" closed its connection; its tools answer with an error from now on`);
    opts.log('info', `MCP server "${spec.name}": ${listings.length} tool(s)`);
    return { name: spec.name, client, listings };
  } catch (err) {
    opts.log('warn', `MCP server "${spec.name}" could not be used and its tools are left out: ${describe(err)}. ` +
      (spec.type === 'stdio' ? `Check that "${spec.command}" exists in the container and speaks MCP over stdio.` : `Check the URL and that its host is allowed (egress.allow or /allow).`));
    await client.close().catch(() => {});
    return undefined;
  }
}

async function openTransport(spec: McpServerSpec, opts: McpConnectOptions): Promise<Transport> {
  if (spec.type === 'http') {
    const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
    return new StreamableHTTPClientTransport(new URL(spec.url));
  }
  const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
  const transport = new StdioClientTransport({
    command: spec.command, args: [...spec.args], env: serverEnv(opts.env, spec.env),
    cwd: opts.cwd ?? '/workspace', stderr: 'pipe',
  });
  logStderr(transport.stderr as Readable | null, spec.name, opts);
  return transport;
}

/** A stdio server's stderr, line by line, into the runner's log: bounded, since the server decides how much it writes. */
function logStderr(stream: Readable | null, name: string, opts: McpConnectOptions): void {
  if (!stream) return;
  let lines = 0;
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!.slice(-MAX_STDERR_LINE);
    for (const line of parts) {
      if (!line.trim()) continue;
      lines++;
      if (lines <= MAX_STDERR_LINES) opts.log('warn', `MCP server "${name}": ${line.slice(0, MAX_STDERR_LINE)}`);
      else if (lines === MAX_STDERR_LINES + 1) opts.log('warn', `MCP server "${name}": further stderr output is not logged`);
    }
  });
}

/** Every page of `tools/list`, up to the caps. */
async function listTools(client: Client, name: string, opts: McpConnectOptions): Promise<McpToolListing[]> {
  const tools: McpToolListing[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES && tools.length < MAX_TOOLS_PER_SERVER; page++) {
    const listed = await client.listTools(cursor ? { cursor } : undefined, { timeout: CONNECT_TIMEOUT_MS });
    tools.push(...listed.tools);
    cursor = listed.nextCursor;
    if (!cursor) break;
  }
  if (tools.length > MAX_TOOLS_PER_SERVER || cursor) {
    opts.log('warn', `MCP server "${name}" lists more than ${MAX_TOOLS_PER_SERVER} tools; only the first ${MAX_TOOLS_PER_SERVER} are offered`);
  }
  return tools.slice(0, MAX_TOOLS_PER_SERVER);
}

function asTool(client: Client, server: string, listing: McpToolListing): Tool {
  const name = mcpToolName(server, listing.name);
  const inputSchema: Record<string, unknown> = { ...listing.inputSchema, type: 'object' };
  delete inputSchema.$schema; // some OpenAI-compatible servers reject the meta-schema key
  const description = listing.description?.trim() || listing.title || `${listing.name}, from the MCP server "${server}".`;
  return {
    def: { name, description: description.slice(0, MAX_DESCRIPTION), inputSchema },
    async run(input, ctx): Promise<ToolOutput> {
      try {
        const result = await client.callTool({ name: listing.name, arguments: input }, undefined, { signal: ctx.signal, timeout: MCP_CALL_TIMEOUT_MS });
        const text = clipText(toolResultText(result), MAX_RESULT);
        return result.isError === true ? { text: text || `${name} failed without saying why.`, isError: true } : { text };
      } catch (err) {
        if (ctx.signal.aborted) return { text: `${name} was stopped: the turn was interrupted.`, isError: true };
        return { text: `${name} failed: the MCP server "${server}" answered with an error or not at all (${describe(err)}).`, isError: true };
      }
    },
  };
}

function describe(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 500);
}
