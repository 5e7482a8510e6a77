/**
 * The host protocol: the one stream between the gateway and the agent runner
 * inside a container. Newline-delimited JSON over the Unix socket the host
 * mounts at `/run/nanoclaw/control.sock`; one connection per container.
 *
 * The runner imports this folder, and only it, from the host's code: nothing
 * here may import anything but zod. Both ends check every line they receive
 * against the schemas in schema.ts and read lines with lines.ts:
 *
 *   const msg: HostToRunner = { type: 'message', id: 'm1', text: 'hi', sender: { id: 'me' } };
 *   socket.write(JSON.stringify(msg) + '\n');
 */

/** Fixed paths inside every agent container. */
export const CONTAINER_PATHS = {
  /** Folder holding the host's sockets (mounted read-only). */
  run: '/run/nanoclaw',
  control: '/run/nanoclaw/control.sock',
  model: '/run/nanoclaw/model.sock',
  egress: '/run/nanoclaw/egress.sock',
  workspace: '/workspace',
  memory: '/memory',
  global: '/global',
  /** Approved skills as one plugin folder (.claude-plugin/plugin.json, skills/<name>/SKILL.md), read-only. */
  skills: '/skills',
  home: '/home/agent',
  /** The engine's own state (session transcripts), kept across container restarts. */
  state: '/home/agent/.claude',
} as const;

/**
 * The loopback port inside every container where the runner bridges to the
 * egress proxy. Fixed, so the host can put the proxy in the container's
 * environment at creation (HTTP_PROXY for the runner's own fetch, MCP HTTP
 * servers and the agent's tools alike); each container has its own loopback.
 */
export const CONTAINER_EGRESS_PORT = 3128;

/** The messages themselves: one zod schema per direction, with the types inferred from them. */
export { HostToRunner, RunnerToHost, PROTOCOL_VERSION, LIMITS, ENGINES, FAILURE_CODES, HOST_TOOLS, HostToolInputs, describeIssues } from './schema.ts';
export type { EngineName, ProviderSpec, McpServerSpec, FailureCode, ProgressKind, TurnOutcome, HostToolName, HostToolInput, HostToolCall, HostToolResult } from './schema.ts';
