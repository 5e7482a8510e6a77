/**
 * The Anthropic Messages API's wire shapes, as the fake server writes them:
 * ids, token estimates, a full `Message` and the SSE frames of a streamed one.
 * Kept apart from the server so the exact event sequence is readable in one
 * place; real clients (the `@anthropic-ai/sdk` and the Claude Code CLI) parse
 * these, so field names and order follow the real API, not convenience.
 */
import { randomBytes } from 'node:crypto';

/** One block the fake can answer with; `tool_use` gets its id assigned here. */
export type ReplyBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; name: string; input: Record<string, unknown> };

/** The parts of a Messages request the fake reads. Anything may be missing. */
export interface MessagesRequest {
  model?: string;
  max_tokens?: number;
  stream?: boolean;
  system?: string | Array<{ type: string; text?: string }>;
  messages?: Array<{ role?: string; content?: string | ContentBlockParam[] }>;
  tools?: Array<{ name?: string; [key: string]: unknown }>;
  [key: string]: unknown;
}

/** A content block as clients send it (only the fields the fake reads). */
export interface ContentBlockParam {
  type?: string;
  text?: string;
  tool_use_id?: string;
  content?: string | ContentBlockParam[];
  [key: string]: unknown;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `msg_01...`-style ids: a prefix and 24 base62 characters, like the real API's. */
export function newId(prefix: 'msg' | 'toolu' | 'req'): string {
  const bytes = randomBytes(24);
  let id = '';
  for (const b of bytes) id += ALPHABET[b % ALPHABET.length];
  return `${prefix}_01${id.slice(2)}`;
}

/**
 * A rough token count (about four characters a token), so `usage` moves with
 * the size of the conversation the way real usage does. Never below 1.
 */
export function estimateTokens(value: unknown): number {
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? '');
  return Math.max(1, Math.ceil(text.length / 4));
}

/** Input tokens of a Messages or count_tokens request: what the model would read. */
export function estimateInputTokens(body: MessagesRequest): number {
  return estimateTokens({ system: body.system, messages: body.messages, tools: body.tools });
}

/**
 * Usage figures an answer reports instead of the estimate: what a test needs
 * to stand for prompt caching (the real API reports cached input apart from
 * `input_tokens`, which then counts only the uncached rest).
 */
export interface UsageOverride {
  input_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

/** A complete `Message` object, as the non-streaming endpoint returns it. */
export function buildMessage(blocks: ReplyBlock[], model: string, inputTokens: number, usage: UsageOverride = {}) {
  const content = blocks.map((b) =>
    b.type === 'text'
      ? { type: 'text' as const, text: b.text }
      : { type: 'tool_use' as const, id: newId('toolu'), name: b.name, input: b.input },
  );
  const stopReason = blocks.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn';
  return {
    id: newId('msg'),
    type: 'message' as const,
    role: 'assistant' as const,
    model,
    content,
    stop_reason: stopReason,
    stop_sequence: null,
    usage: {
      input_tokens: usage.input_tokens ?? inputTokens,
      cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0,
      cache_read_input_tokens: usage.cache_read_input_tokens ?? 0,
      output_tokens: estimateTokens(content),
      service_tier: 'standard',
    },
  };
}

export type Message = ReturnType<typeof buildMessage>;

/** One SSE frame: `event:` names the type, `data:` repeats it inside the JSON. */
function frame(data: { type: string; [key: string]: unknown }): string {
  return `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Splits a string into a few pieces so clients really have to accumulate deltas. */
function chunks(text: string, size: number): string[] {
  if (text.length === 0) return [];
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/**
 * The SSE frames of `message`, in the real API's order: message_start,
 * then per block content_block_start / content_block_delta... / content_block_stop,
 * then message_delta (stop_reason and the final usage: output_tokens, and the
 * input side again, as the current API repeats it) and message_stop.
 * `message_start` carries empty content and a null stop_reason, as the real one does.
 */
export function streamFrames(message: Message): string[] {
  const frames = [
    frame({
      type: 'message_start',
      message: {
        ...message,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...message.usage, output_tokens: 1 },
      },
    }),
  ];
  message.content.forEach((block, index) => {
    if (block.type === 'text') {
      frames.push(frame({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } }));
      for (const text of chunks(block.text, 16)) {
        frames.push(frame({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } }));
      }
    } else {
      const start = { type: 'tool_use', id: block.id, name: block.name, input: {} };
      frames.push(frame({ type: 'content_block_start', index, content_block: start }));
      for (const partial_json of chunks(JSON.stringify(block.input), 24)) {
        frames.push(
          frame({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } }),
        );
      }
    }
    frames.push(frame({ type: 'content_block_stop', index }));
  });
  frames.push(
    frame({
      type: 'message_delta',
      delta: { stop_reason: message.stop_reason, stop_sequence: null },
      usage: {
        input_tokens: message.usage.input_tokens,
        cache_creation_input_tokens: message.usage.cache_creation_input_tokens,
        cache_read_input_tokens: message.usage.cache_read_input_tokens,
        output_tokens: message.usage.output_tokens,
      },
    }),
  );
  frames.push(frame({ type: 'message_stop' }));
  return frames;
}

/** The body of every error answer: `{type:'error', error:{type, message}, request_id}`. */
export function errorBody(type: string, message: string, requestId: string) {
  return { type: 'error', error: { type, message }, request_id: requestId };
}
