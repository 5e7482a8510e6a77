import type { McpServerConfig } from '@anthropic-ai/claude-agent-sdk/core';
import type { McpServerSpec } from '../../../src/protocol/messages.ts';
import { MCP_CALL_TIMEOUT_MS } from './limits.ts';
import { serverEnv } from './server-env.ts';

/**
 * The conversation's MCP servers as the Claude Agent SDK's `mcpServers`
 * entries, by name: a stdio server is started by the SDK's CLI inside this
 * container (with the minimal environment of server-env.ts and its own
 * `env`), an HTTP server is reached at its URL through the egress proxy the
 * container's environment names. The model sees their tools as
 * `mcp__<name>__<tool>`. Their tools are always in the prompt (`alwaysLoad`):
 * the operator chose these servers, and the model should know of them from
 * the first turn. Spread the host's own server after these, so a configured
 * server of the same name can never stand in for the host's tools.
 *
 *   query({ prompt, options: { mcpServers: { ...claudeMcpServers(opts.mcpServers, opts.env), [HOST_TOOLS_SERVER]: hostServer } } });
 *   // { echo: { type: 'stdio', command: 'node', args: ['/mnt/mcp/echo.mjs'], env: { PATH, HOME, LANG, ... } } }
 */
export function claudeMcpServers(specs: readonly McpServerSpec[], env: Readonly<Record<string, string | undefined>> = process.env): Record<string, McpServerConfig> {
  const servers: Record<string, McpServerConfig> = {};
  for (const spec of specs) {
    if (servers[spec.name]) continue;
    servers[spec.name] = spec.type === 'stdio'
      ? { type: 'stdio', command: spec.command, args: [...spec.args], env: serverEnv(env, spec.env), timeout: MCP_CALL_TIMEOUT_MS, alwaysLoad: true }
      : { type: 'http', url: spec.url, timeout: MCP_CALL_TIMEOUT_MS, alwaysLoad: true };
  }
  return servers;
}
