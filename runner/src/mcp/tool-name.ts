/** Longest tool name the model APIs accept (OpenAI's limit; Anthropic's is larger). */
const MAX_TOOL_NAME = 64;

/**
 * The name the built-in engine's model knows an MCP server's tool by:
 * `<server>__<tool>`, with anything outside `[a-zA-Z0-9_-]` replaced by `_`
 * and cut to 64 characters, which is what both model APIs accept. (The
 * Claude engine's own names are `mcp__<server>__<tool>`, made by its CLI.)
 *
 *   mcpToolName('echo', 'reverse')        // 'echo__reverse'
 *   mcpToolName('files', 'read.file v2')  // 'files__read_file_v2'
 */
export function mcpToolName(server: string, tool: string): string {
  return `${server}__${tool}`.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, MAX_TOOL_NAME);
}
