import type { EngineName, ProgressKind, TurnOutcome } from '../../../src/protocol/messages.ts';

/**
 * An agent engine inside the container: takes user messages one at a time and
 * reports progress and the end of each turn. The runner hosts exactly one.
 *
 *   const engine = new ClaudeEngine(events);
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
  /** Queues one user message; its turn ends with exactly one `turnEnd`. */
  send(id: string, text: string, sender: Sender): void;
  /**
   * Aborts the running turn for message `id` (a no-op for any other id): its
   * `turnEnd` follows with code `interrupted`, and the engine takes the next
   * message as usual.
   */
  interrupt(id: string): void;
  close(): Promise<void>;
}

/** Who wrote a message, as the channel knows them: an id and, where the channel has one, a display name. */
export interface Sender { id: string; name?: string }

export interface EngineOptions {
  cwd: string;
  resumeSession?: string;
  systemPrompt?: string;
  env: Record<string, string>;
}

export interface EngineEvents {
  session(sessionId: string): void;
  progress(id: string, kind: ProgressKind, text: string, tool?: string): void;
  turnEnd(id: string, result: TurnOutcome): void;
  log(level: 'info' | 'warn' | 'error', text: string): void;
}
