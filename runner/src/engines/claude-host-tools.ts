import { createSdkMcpServer, tool, type McpSdkServerConfigWithInstance } from '@anthropic-ai/claude-agent-sdk/core';
import type { HostToolInput, HostToolName, HostToolResult } from '../../../src/protocol/messages.ts';
import { HOST_TOOL_DEFS } from '../host-tool-defs.ts';

/** The MCP server's name: the model sees its tools as `mcp__nanoclaw__<tool>`. */
export const HOST_TOOLS_SERVER = 'nanoclaw';

/** Runs one host tool for the running turn; see HostToolCaller. */
export type RunHostTool = <T extends HostToolName>(tool: T, input: HostToolInput<T>) => Promise<HostToolResult>;

/**
 * The host's tools (HOST_TOOLS) as an in-process MCP server for the Claude
 * Agent SDK, passed in `mcpServers`, with the descriptions and input shapes
 * both engines use (host-tool-defs.ts).
 * The host's answer is the tool's result; its error an MCP error result.
 *
 *   const server = hostToolsServer((tool, input) => hostTools.call(turnId(), tool, input));
 *   query({ prompt, options: { mcpServers: { [HOST_TOOLS_SERVER]: server } } });
 */
export function hostToolsServer(run: RunHostTool): McpSdkServerConfigWithInstance {
  return createSdkMcpServer({
    name: HOST_TOOLS_SERVER,
    version: '1.0.0',
    // Always in the prompt, never deferred behind tool search: the model
    // should know from the first turn that it can reach the person.
    alwaysLoad: true,
    tools: HOST_TOOL_DEFS.map((t) => tool(t.name, t.description, t.input.shape, async (input: any) => asToolResult(await run(t.name, input)))),
  });
}

function asToolResult(r: HostToolResult): { content: Array<{ type: 'text'; text: string }>; isError?: boolean } {
  return r.ok ? { content: [{ type: 'text', text: r.text }] } : { content: [{ type: 'text', text: r.error }], isError: true };
}
