import type { EngineName, HostToolInput, HostToolName, HostToolResult, McpServerSpec, ProgressKind, ProviderSpec, TurnOutcome } from '../../../src/protocol/messages.ts';

/**
 * An agent engine inside the container: takes user messages one at a time and
 * reports progress and the end of each turn. The runner hosts exactly one,
 * built with its events and a HostToolCaller, through which the engine
 * offers the host's tools (HOST_TOOLS) to its model in its own way.
 *
 *   const engine = new ClaudeEngine(events, hostTools);
 *   engine.open({ cwd: '/workspace' });
 *   engine.send('m1', 'hello', { id: 'tg:42', name: 'Ann' });   // later: events.turnEnd('m1', ...)
 */
export interface Engine {
  /** What `start` calls it. */
  readonly id: EngineName;
  /** What `hello` reports: the implementation. */
  readonly name: string;
  /** Starts (or restarts) the engine's session; may be called before the first message to warm it up. */
  open(opts: EngineOptions): void;
  /** Whether a session opened (warmed up) with `opened` can serve `wanted` as it is, or must be opened anew. */
  canKeep(opened: EngineOptions, wanted: EngineOptions): boolean;
  /** Queues one user message; its turn ends with exactly one `turnEnd`. */
  send(id: string, text: string, sender: Sender, attachments?: Attachment[]): void;
  /**
   * Aborts the running turn for message `id` (a no-op for any other id): its
   * `turnEnd` follows with code `interrupted`, and the engine takes the next
   * message as usual.
   */
  interrupt(id: string): void;
  close(): Promise<void>;
}

/** A file that came with a message, already in the inbox: its path in the container and size. */
export interface Attachment { path: string; bytes: number }

/** Who wrote a message, as the channel knows them: an id and, where the channel has one, a display name. */
export interface Sender { id: string; name?: string }

export interface EngineOptions {
  cwd: string;
  resumeSession?: string;
  systemPrompt?: string;
  /** The environment for the engine's child processes (the agent's shell, MCP servers). */
  env: Record<string, string>;
  /** The model bridge's base URL: provider `p` is reached at `${modelBridge}/p/${p.name}`. */
  modelBridge: string;
  /** The provider chain, first choice first; empty: the bridge's default (Anthropic) route. */
  providers: ProviderSpec[];
  mcpServers: McpServerSpec[];
  /**
   * The read-only folder of approved skills (CONTAINER_PATHS.skills): a
   * plugin folder with an index.json the engines read at each turn (see
   * skills.ts), since the owner may approve a skill while the container runs.
   */
  skillsDir: string;
  /** Where the engine keeps its own state (transcripts); default CONTAINER_PATHS.state. */
  stateDir?: string;
}

export interface EngineEvents {
  session(sessionId: string): void;
  progress(id: string, kind: ProgressKind, text: string, tool?: string): void;
  turnEnd(id: string, result: TurnOutcome): void;
  /** Turn `id` was answered by a provider other than the chain's first: which, and why the others were passed over. */
  modelUsed(id: string, provider: string, model: string, passedOver: Array<{ provider: string; error: string }>): void;
  log(level: 'info' | 'warn' | 'error', text: string): void;
}

/**
 * Runs a host tool for the turn `turnId` is running, however the engine's
 * model asked for it: the host does it (only the host reaches the person)
 * and its answer, or why it failed, is for the model to read. Never
 * rejects; an `ask_user` resolves when the person answers.
 *
 *   const r = await host.call(turnId, 'ask_user', { question: 'Which file?', choices: ['a.txt', 'b.txt'] });
 *   return r.ok ? r.text : `failed: ${r.error}`;
 */
export interface HostToolCaller {
  call<T extends HostToolName>(turnId: string, tool: T, input: HostToolInput<T>): Promise<HostToolResult>;
}
