/**
 * The built-in engine's view of a model, whatever API serves it: one
 * transcript format (kept in the container's state folder, so a conversation
 * resumes in a new container), one request shape and one stream of events.
 * Each wire format (providers/anthropic.ts, providers/openai.ts) maps to and
 * from these, so the tool loop, the fallback chain and compaction never see
 * a provider's JSON.
 *
 *   const client = modelClient({ kind: 'openai', baseUrl: `${bridge}/p/local`, apiKey: token, model: 'qwen3' });
 *   for await (const ev of client.stream({ system, messages, tools, maxTokens: 4096, signal })) ...
 */

/** One piece of a transcript message. Tool calls and their results are matched by `id`. */
export type Block =
  | { type: 'text'; text: string }
  | { type: 'tool_call'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'tool_result'; id: string; content: string; isError?: boolean };

/** A transcript message: the user's side (their text, tool results) or the model's (text, tool calls). */
export interface TranscriptMessage {
  role: 'user' | 'assistant';
  blocks: Block[];
}

/** A tool as the model is told of it: its input is a JSON Schema object. */
export interface ToolDef {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

export interface ModelRequest {
  system: string;
  messages: TranscriptMessage[];
  tools: ToolDef[];
  maxTokens: number;
  signal: AbortSignal;
}

/** Tokens of one call, by kind, as the API reported them (cache reads are not counted in `inputTokens`). */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

/**
 * What a streamed answer yields, in order: text deltas as they arrive, each
 * tool call once its input is complete, the usage (when the API sent it) and
 * exactly one `end` last. A failure is thrown as a ProviderError instead.
 */
export type ModelEvent =
  | { type: 'text'; text: string }
  | { type: 'tool_call'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'usage'; usage: Usage }
  | { type: 'end'; stopReason: 'end' | 'tool_use' | 'max_tokens' | 'other'; model?: string };

/** One provider's API for one model. */
export interface ModelClient {
  readonly kind: ProviderKind;
  readonly model: string;
  stream(req: ModelRequest): AsyncIterable<ModelEvent>;
}

/** The wire format a provider speaks: Anthropic Messages or OpenAI-compatible Chat Completions. */
export type ProviderKind = 'anthropic' | 'openai';

/**
 * Why a model call failed, in the terms a fallback chain decides on:
 * - `rate_limit`: 429, try again after `retryAfterMs` (or move on if that is long);
 * - `overloaded`: 529 / 503, the provider is busy for everyone;
 * - `quota`: out of credit or past a spend limit (402, `insufficient_quota`,
 *   `enforced_spend_limit_reached`): never retried against the same provider;
 * - `auth`: the key was refused (401/403), including the host's budget refusal;
 * - `invalid_request`: 400/404/413/422: the request itself is wrong;
 * - `context_overflow`: the request is too long for the model's context;
 * - `server`: any other 5xx;
 * - `network`: no answer (connection refused or cut before a status);
 * - `stream`: the answer started, then broke (an `error` event, a cut connection);
 * - `aborted`: the caller's signal fired.
 */
export type ProviderErrorKind = 'rate_limit' | 'overloaded' | 'quota' | 'auth' | 'invalid_request' | 'context_overflow' | 'server' | 'network' | 'stream' | 'aborted';

export class ProviderError extends Error {
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    readonly details: {
      status?: number;
      /** The server's own wait, from `retry-after` / `retry-after-ms`, in ms. */
      retryAfterMs?: number;
      /** True once any text or tool call of this answer reached the caller: a retry would repeat it. */
      midStream?: boolean;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: details.cause });
    this.name = 'ProviderError';
  }

  get status(): number | undefined { return this.details.status; }
  get retryAfterMs(): number | undefined { return this.details.retryAfterMs; }
  get midStream(): boolean { return this.details.midStream ?? false; }
}
