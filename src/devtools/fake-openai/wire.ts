/**
 * The OpenAI Chat Completions API's wire shapes, as the OpenAI stand-in
 * writes them, and the adapter that lets it share the Anthropic stand-in's
 * script: a chat request becomes the Messages request the script reads, and
 * the script's reply blocks become a `chat.completion` or its chunks.
 */
import { randomBytes } from 'node:crypto';
import type { ContentBlockParam, MessagesRequest, ReplyBlock } from '../fake-anthropic/wire.ts';
import { estimateTokens } from '../fake-anthropic/wire.ts';

/** The parts of a chat request the stand-in reads. Anything may be missing. */
export interface ChatRequest {
  model?: string;
  max_tokens?: number;
  max_completion_tokens?: number;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  messages?: ChatMessage[];
  tools?: Array<{ type?: string; function?: { name?: string; description?: string; parameters?: unknown } }>;
  [key: string]: unknown;
}

export interface ChatMessage {
  role?: string;
  content?: string | Array<{ type?: string; text?: string }> | null;
  tool_calls?: Array<{ id?: string; function?: { name?: string; arguments?: string } }>;
  tool_call_id?: string;
}

/** `chatcmpl-...` / `call_...` ids, random like the real API's. */
export function openaiId(prefix: 'chatcmpl-' | 'call_' | 'req_'): string {
  return `${prefix}${randomBytes(12).toString('base64url')}`;
}

/** Usage figures to report instead of the estimate; `cached_tokens` are part of `prompt_tokens`, as in the real API. */
export interface ChatUsageOverride {
  prompt_tokens?: number;
  cached_tokens?: number;
}

/**
 * The chat request as the Anthropic-shaped script reads it: system and
 * developer messages become `system`, tool messages `tool_result` blocks,
 * assistant tool calls `tool_use` blocks, tools their name and schema.
 */
export function asMessagesRequest(body: ChatRequest): MessagesRequest {
  const messages: Array<{ role: string; content: ContentBlockParam[] }> = [];
  const system: string[] = [];
  const push = (role: string, blocks: ContentBlockParam[]) => {
    const last = messages.at(-1);
    if (last?.role === role) last.content.push(...blocks);
    else messages.push({ role, content: blocks });
  };
  for (const m of body.messages ?? []) {
    const text = contentText(m.content);
    if (m.role === 'system' || m.role === 'developer') system.push(text);
    else if (m.role === 'tool') push('user', [{ type: 'tool_result', tool_use_id: m.tool_call_id, content: text }]);
    else if (m.role === 'assistant') {
      const calls = (m.tool_calls ?? []).map((c) => ({ type: 'tool_use', id: c.id, name: c.function?.name, input: parseArgs(c.function?.arguments) }));
      push('assistant', [...(text ? [{ type: 'text', text }] : []), ...calls]);
    } else push('user', [{ type: 'text', text }]);
  }
  return {
    model: body.model,
    max_tokens: body.max_tokens ?? body.max_completion_tokens,
    stream: body.stream,
    system: system.join('\n'),
    messages,
    tools: (body.tools ?? []).map((t) => ({ name: t.function?.name, description: t.function?.description, input_schema: t.function?.parameters })),
  };
}

function contentText(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content;
  return (content ?? []).filter((p) => p.type === 'text').map((p) => p.text ?? '').join('\n');
}

function parseArgs(args: string | undefined): unknown {
  try { return JSON.parse(args ?? '{}'); } catch { return {}; }
}

/** A complete `chat.completion`, as the non-streaming endpoint returns it. */
export function buildCompletion(blocks: ReplyBlock[], model: string, promptTokens: number, usage: ChatUsageOverride = {}) {
  const text = blocks.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');
  const toolCalls = blocks.flatMap((b) =>
    b.type === 'tool_use' ? [{ id: openaiId('call_'), type: 'function' as const, function: { name: b.name, arguments: JSON.stringify(b.input) } }] : [],
  );
  const prompt = usage.prompt_tokens ?? promptTokens;
  const completion = estimateTokens({ text, toolCalls });
  return {
    id: openaiId('chatcmpl-'),
    object: 'chat.completion' as const,
    created: Math.floor(Date.now() / 1000),
    model,
    system_fingerprint: 'fp_fake',
    choices: [
      {
        index: 0,
        message: { role: 'assistant' as const, content: text || null, refusal: null, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) },
        logprobs: null,
        finish_reason: toolCalls.length > 0 ? 'tool_calls' : 'stop',
      },
    ],
    usage: {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: { cached_tokens: usage.cached_tokens ?? 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    },
  };
}

export type Completion = ReturnType<typeof buildCompletion>;

/** One SSE `data:` frame. */
export function dataFrame(value: unknown): string {
  return `data: ${typeof value === 'string' ? value : JSON.stringify(value)}\n\n`;
}

/** Splits a string into a few pieces so clients really have to accumulate deltas. */
function pieces(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/**
 * The chunks that open an answer and stream `text`: the role chunk, then the
 * text in 16-character deltas. Also the start of a `midstream` failure.
 */
export function openingChunks(c: Pick<Completion, 'id' | 'created' | 'model'>, text: string, includeUsage: boolean): string[] {
  const chunk = chunkOf(c, includeUsage);
  return [
    dataFrame(chunk({ role: 'assistant', content: '' })),
    ...pieces(text, 16).map((content) => dataFrame(chunk({ content }))),
  ];
}

/**
 * The frames of a streamed `completion`, in the real API's order: the opening
 * chunks, each tool call as a first piece (id, name, empty arguments) and
 * argument pieces of 24 characters, a chunk with the finish_reason, the usage
 * chunk (`choices: []`) only when the request asked with
 * `stream_options.include_usage`, and `data: [DONE]`.
 */
export function streamChunks(c: Completion, includeUsage: boolean): string[] {
  const chunk = chunkOf(c, includeUsage);
  const { message, finish_reason } = c.choices[0];
  const frames = openingChunks(c, message.content ?? '', includeUsage);
  (message.tool_calls ?? []).forEach((call, index) => {
    frames.push(dataFrame(chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] })));
    for (const args of pieces(call.function.arguments, 24)) {
      frames.push(dataFrame(chunk({ tool_calls: [{ index, function: { arguments: args } }] })));
    }
  });
  frames.push(dataFrame(chunk({}, finish_reason)));
  if (includeUsage) frames.push(dataFrame({ id: c.id, object: 'chat.completion.chunk', created: c.created, model: c.model, system_fingerprint: 'fp_fake', choices: [], usage: c.usage }));
  frames.push(dataFrame('[DONE]'));
  return frames;
}

function chunkOf(c: Pick<Completion, 'id' | 'created' | 'model'>, includeUsage: boolean) {
  return (delta: Record<string, unknown>, finishReason: string | null = null) => ({
    id: c.id,
    object: 'chat.completion.chunk',
    created: c.created,
    model: c.model,
    system_fingerprint: 'fp_fake',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  });
}

/** The body of every error answer: `{error:{message, type, param, code}}`. */
export function openaiErrorBody(message: string, type: string, code: string | null) {
  return { error: { message, type, param: null, code } };
}
