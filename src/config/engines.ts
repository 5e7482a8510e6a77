import { z } from 'zod';
import { ENGINES } from '../protocol/messages.ts';

/**
 * `providers`, `agent.engine` and `mcp`: which model APIs the agents may use,
 * which engine and provider chain a conversation runs, and the MCP servers
 * offered to it. Keys are named here, never stored: `apiKeySecret` names an
 * environment variable or a secrets.json entry, `apiKeyFile` a file only the
 * gateway reads. Containers see provider names and models, never a key or an
 * upstream URL (the credential proxy holds those).
 *
 *   "providers": { "groq": { "kind": "openai", "baseUrl": "https://api.groq.com/openai/v1", "model": "llama-3.3-70b-versatile", "apiKeySecret": "GROQ_API_KEY" } },
 *   "agent": { "engine": "builtin", "providers": ["anthropic", "groq"] }
 */

/** Provider and MCP server names: they appear in URLs and tool names. */
export const NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;
const name = z.string().regex(NAME, 'expected a short lowercase name: a-z, 0-9 and "-", e.g. "groq" or "local-ollama"');

export const ProviderConfig = z.strictObject({
  kind: z.enum(['anthropic', 'openai'])
    .describe('Wire format: "anthropic" (the Messages API) or "openai" (OpenAI-compatible Chat Completions: OpenAI, OpenRouter, Groq, Together, vLLM, LM Studio, Ollama...).'),
  baseUrl: z.url()
    .describe('API root. For "anthropic" without /v1 (https://api.anthropic.com); for "openai" up to and including /v1 (https://api.openai.com/v1, https://openrouter.ai/api/v1, https://api.groq.com/openai/v1, http://127.0.0.1:11434/v1 for Ollama).'),
  model: z.string().min(1).max(128).describe('Model id sent with each request, e.g. claude-sonnet-4-5, gpt-4.1-mini, llama3.2.'),
  apiKeySecret: z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'expected a variable name like GROQ_API_KEY').optional()
    .describe('Name of the environment variable or secrets.json entry holding the key. Neither this nor apiKeyFile: no key is sent (a local server).'),
  apiKeyFile: z.string().min(1).optional().describe('A file holding the key (first line), read by the gateway at start.'),
  contextTokens: z.number().int().min(1024).default(128_000).describe('The model\'s context window in tokens: the built-in engine compacts a conversation before it would overflow.'),
  maxOutputTokens: z.number().int().min(256).default(8192).describe('Most tokens one answer may have.'),
  prices: z.strictObject({
    input: z.number().min(0), output: z.number().min(0),
    cacheWrite: z.number().min(0).optional(), cacheRead: z.number().min(0).optional(),
  }).optional().describe('USD per million tokens for this provider\'s calls (cache prices default to input). Unset: budget.prices by model id.'),
});
export type ProviderSettings = z.infer<typeof ProviderConfig>;

/** What a channel or a conversation may override: its engine, provider chain and MCP servers. */
export const AgentChoice = z.strictObject({
  engine: z.enum(ENGINES).optional(),
  providers: z.array(name).min(1).max(8).optional(),
  mcpServers: z.array(name).max(16).optional(),
});
export type AgentChoiceSettings = z.infer<typeof AgentChoice>;

export const McpServerConfig = z.union([
  z.strictObject({
    command: z.string().min(1).describe('Program run inside the conversation\'s container (it must exist in the agent image or a mounted folder).'),
    args: z.array(z.string()).default([]),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).default({})
      .describe('Environment for the server; it runs in the container, so put no secret here.'),
  }),
  z.strictObject({
    url: z.url().describe('Streamable HTTP endpoint, reached through the egress proxy: its host must be allowed (egress.allow or /allow).'),
  }),
]);
export type McpServerSettings = z.infer<typeof McpServerConfig>;

/** Object-valued options arrive from the environment as JSON text. */
function jsonText(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try { return JSON.parse(value); } catch { return value; }
}

export const ProvidersConfig = z.preprocess(jsonText, z.record(name, ProviderConfig)).default({})
  .describe('Model providers by name, e.g. {"groq": {"kind": "openai", "baseUrl": "https://api.groq.com/openai/v1", "model": "llama-3.3-70b-versatile", "apiKeySecret": "GROQ_API_KEY"}}. "anthropic" exists unless redefined: model.baseUrl with ANTHROPIC_API_KEY. See docs/engines.md.');

export const EngineChoiceFields = {
  engine: z.enum(ENGINES).default('claude')
    .describe('Engine for conversations: "claude" (the Claude Agent SDK, Anthropic only) or "builtin" (the light built-in engine, any provider, a smaller container).'),
  providers: z.preprocess(jsonText, z.array(name).min(1).max(8)).default(['anthropic'])
    .describe('Provider chain, first choice first: the built-in engine falls back along it when a provider errors, is overloaded, rate-limited or out of quota. The claude engine uses the first "anthropic"-kind provider.'),
  mcpServers: z.preprocess(jsonText, z.array(name).max(16)).default([])
    .describe('MCP servers (names from mcp.servers) offered to every conversation.'),
  byChannel: z.preprocess(jsonText, z.record(z.string().regex(/^[a-z0-9-]+$/), AgentChoice)).default({})
    .describe('Per-channel overrides of engine, providers and mcpServers, e.g. {"telegram": {"engine": "builtin", "providers": ["groq"]}}.'),
  byConversation: z.preprocess(jsonText, z.record(z.string().regex(/^[a-z0-9-]+:.+$/), AgentChoice)).default({})
    .describe('Per-chat overrides ("channel:chat"), laid over byChannel. The owner\'s /model command overrides both for one conversation.'),
};

export const McpConfig = z.strictObject({
  servers: z.preprocess(jsonText, z.record(name.refine((n) => n !== 'nanoclaw', 'the name "nanoclaw" is taken by the host\'s own tools'), McpServerConfig)).default({})
    .describe('MCP servers by name: {"command", "args", "env"} runs a stdio server inside the conversation\'s container; {"url"} is a Streamable HTTP server reached through the egress proxy. Offered where agent.mcpServers or an override names them.'),
}).prefault({});
