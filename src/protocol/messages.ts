/**
 * The host protocol: the one stream between the gateway and the agent runner
 * inside a container. Newline-delimited JSON over the Unix socket the host
 * mounts at `/run/nanoclaw/control.sock`; one connection per container.
 *
 * Types only, so the runner can import it without pulling host code into the
 * image:
 *
 *   const msg: HostToRunner = { type: 'message', id: 'm1', text: 'hi' };
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
  home: '/home/agent',
  /** The engine's own state (session transcripts), kept across container restarts. */
  state: '/home/agent/.claude',
} as const;

/** Sent by the host. */
export type HostToRunner =
  /** Binds a pristine container to its conversation; sent once, before any message. */
  | { type: 'start'; conversation: string; resumeSession?: string; memory: boolean; systemPrompt?: string }
  /** One user message; the runner answers with events and exactly one `turn_end`. */
  | { type: 'message'; id: string; text: string; sender: string }
  /** Asks the runner to finish and exit. */
  | { type: 'stop' };

/** Sent by the runner. */
export type RunnerToHost =
  /** First line after connecting: the runner is up and waiting for `start`. */
  | { type: 'hello'; runner: string; engine: string }
  /** The engine's session id, so a fresh container can resume it after a crash. */
  | { type: 'session'; sessionId: string }
  /** Progress during a turn (tool calls, interim text), for live views. */
  | { type: 'progress'; id: string; kind: 'tool_use' | 'text' | 'tool_result'; tool?: string; text: string }
  /** The end of the turn for message `id`: the replies to deliver, or an error. */
  | { type: 'turn_end'; id: string; ok: true; replies: string[] }
  | { type: 'turn_end'; id: string; ok: false; error: string }
  /** A log line worth keeping on the host. */
  | { type: 'log'; level: 'info' | 'warn' | 'error'; text: string };
