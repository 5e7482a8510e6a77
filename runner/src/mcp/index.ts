/**
 * MCP servers for both engines: the Claude engine hands them to its SDK
 * (claudeMcpServers), the built-in engine connects to them itself and
 * offers their tools as its own (connectMcpTools). Nothing here loads the
 * MCP client library until connectMcpTools runs.
 */
export { claudeMcpServers } from './claude-servers.ts';
export { connectMcpTools, type McpConnectOptions, type McpTools } from './connect-tools.ts';
export { mcpToolName } from './tool-name.ts';
export { MCP_CALL_TIMEOUT_MS } from './limits.ts';
