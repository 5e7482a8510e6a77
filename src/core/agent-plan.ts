import type { Config } from '../config/schema.ts';
import type { EngineName, McpServerSpec } from '../protocol/messages.ts';
import type { Conversation } from '../store/store.ts';
import type { Providers } from '../config/providers.ts';

/** What a conversation runs: its engine, its provider chain (first choice first) and its MCP servers. */
export interface AgentPlan {
  engine: EngineName;
  providers: string[];
  mcpServers: string[];
}

/**
 * The plan for a conversation: `agent.*` from the config, laid over by
 * `agent.byChannel[channel]`, then `agent.byConversation["channel:chat"]`,
 * then the owner's /model choice stored on the conversation.
 *
 *   const plan = agentPlan(config, conv);   // { engine: 'builtin', providers: ['groq', 'anthropic'], mcpServers: [] }
 */
export function agentPlan(config: Config, conv: Pick<Conversation, 'channel' | 'chat' | 'agentChoice'>): AgentPlan {
  const a = config.agent;
  const layers: Array<{ engine?: EngineName; providers?: string[]; mcpServers?: string[] } | undefined> =
    [a.byChannel[conv.channel], a.byConversation[`${conv.channel}:${conv.chat}`], conv.agentChoice ?? undefined];
  const plan: AgentPlan = { engine: a.engine, providers: [...a.providers], mcpServers: [...a.mcpServers] };
  for (const l of layers) {
    if (!l) continue;
    if (l.engine) plan.engine = l.engine;
    if (l.providers?.length) plan.providers = [...l.providers];
    if (l.mcpServers) plan.mcpServers = [...l.mcpServers];
  }
  return plan;
}

/**
 * Why a plan cannot run, or undefined: an unknown or keyless provider, an MCP
 * server nobody configured, or the Claude engine without an Anthropic provider.
 */
export function planProblem(config: Config, providers: Providers, plan: AgentPlan): string | undefined {
  const bad = providers.check(plan.providers);
  if (bad) return bad;
  if (plan.engine === 'claude' && !plan.providers.some((n) => providers.get(n)?.settings.kind === 'anthropic')) {
    return `the claude engine speaks only the Anthropic API, and none of ${plan.providers.join(', ')} is an "anthropic" provider; use the builtin engine for the others`;
  }
  const missing = plan.mcpServers.find((n) => !config.mcp.servers[n]);
  if (missing) return `MCP server "${missing}" is not configured under mcp.servers`;
  return undefined;
}

/** The MCP servers of a plan as the runner is told of them. */
export function mcpSpecs(config: Config, names: readonly string[]): McpServerSpec[] {
  return names.flatMap((name): McpServerSpec[] => {
    const s = config.mcp.servers[name];
    if (!s) return [];
    return 'url' in s ? [{ type: 'http', name, url: s.url }] : [{ type: 'stdio', name, command: s.command, args: s.args, env: s.env }];
  });
}

/** Every provider chain the config can give a conversation (for checks at start). */
export function configuredChains(config: Config): Array<{ where: string; plan: AgentPlan }> {
  const a = config.agent;
  const base = agentPlan(config, { channel: '', chat: '', agentChoice: null });
  const out = [{ where: 'agent', plan: base }];
  for (const [channel] of Object.entries(a.byChannel)) out.push({ where: `agent.byChannel.${channel}`, plan: agentPlan(config, { channel, chat: '', agentChoice: null }) });
  for (const key of Object.keys(a.byConversation)) {
    const i = key.indexOf(':');
    out.push({ where: `agent.byConversation["${key}"]`, plan: agentPlan(config, { channel: key.slice(0, i), chat: key.slice(i + 1), agentChoice: null }) });
  }
  return out;
}
