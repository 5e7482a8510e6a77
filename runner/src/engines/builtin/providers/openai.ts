/**
 * The OpenAI Chat Completions API as a ModelClient, for OpenAI itself and
 * every server that copies it (OpenRouter, Groq, Together, vLLM, LM Studio,
 * Ollama): POST `${baseUrl}/chat/completions` with `stream: true` and
 * `stream_options.include_usage`, the `data:` chunks folded into ModelEvents.
 * `baseUrl` includes the `/v1` part, as OpenAI clients expect.
 *
 * Tolerated server differences: a tool call sent whole in one chunk or in
 * pieces (accumulated by `index`), usage in `usage` or Groq's `x_groq.usage`,
 * SSE comment lines (OpenRouter's `: OPENROUTER PROCESSING`), an `error`
 * object inside a 200 stream (OpenRouter; a `stream` error), a stream that
 * ends after `finish_reason` without `[DONE]`, and `finish_reason: stop`
 * on an answer that did call tools (reported as `tool_use`).
 *
 *   const client = new OpenAIClient({ baseUrl: 'http://127.0.0.1:4100/p/local', apiKey: token, model: 'qwen3' });
 *   for await (const ev of client.stream({ system, messages, tools, maxTokens: 4096, signal })) ...
 */
import type { ModelClient, ModelEvent, ModelRequest, ToolDef, TranscriptMessage, Usage } from '../model.ts';
import { ProviderError } from '../model.ts';
import { errorFields, streamFailure } from './errors.ts';
import type { ClientOptions } from './options.ts';
import { postModelRequest } from './post.ts';
import { sseEvents } from './sse.ts';
import { parseToolInput } from './tool-input.ts';

const WHAT = 'OpenAI-compatible API';

export class OpenAIClient implements ModelClient {
  readonly kind = 'openai' as const;
  readonly model: string;
  readonly #url: string;
  readonly #apiKey: string;
  readonly #fetch: typeof fetch;

  constructor(opts: ClientOptions) {
    this.model = opts.model;
    this.#url = `${opts.baseUrl.replace(/\/+$/, '')}/chat/completions`;
    this.#apiKey = opts.apiKey;
    this.#fetch = opts.fetch ?? fetch;
  }

  async *stream(req: ModelRequest): AsyncGenerator<ModelEvent> {
    let yielded = false;
    try {
      const res = await postModelRequest({
        fetch: this.#fetch,
        url: this.#url,
        headers: { authorization: `Bearer ${this.#apiKey}` },
        body: openaiBody(this.model, req),
        signal: req.signal,
        what: WHAT,
      });
      const answer = new AnswerState();
      for await (const sse of sseEvents(res.body, req.signal, WHAT)) {
        if (sse.data.trim() === '[DONE]') break;
        for (const ev of answer.take(sse.data)) {
          yielded = true;
          yield ev;
        }
      }
      for (const ev of answer.finish()) {
        yielded ||= ev.type === 'tool_call';
        yield ev;
      }
    } catch (err) {
      throw streamFailure(err, req.signal, yielded, WHAT);
    }
  }
}

/** The request body: system first, assistant `tool_calls`, one `role: 'tool'` message per result. */
export function openaiBody(model: string, req: ModelRequest): Record<string, unknown> {
  return {
    model,
    messages: [...(req.system ? [{ role: 'system', content: req.system }] : []), ...openaiMessages(req.messages)],
    max_tokens: req.maxTokens,
    stream: true,
    stream_options: { include_usage: true },
    ...(req.tools.length > 0 ? { tools: req.tools.map(openaiTool) } : {}),
  };
}

function openaiTool(t: ToolDef) {
  return { type: 'function', function: { name: t.name, description: t.description, parameters: t.inputSchema } };
}

/**
 * Tool results come first in a user turn: the API wants them right after
 * the assistant message that called the tools. It has no error flag for a
 * result, so a failed one is marked in its text.
 */
function openaiMessages(messages: TranscriptMessage[]): unknown[] {
  const out: unknown[] = [];
  for (const m of messages) {
    const text = m.blocks.flatMap((b) => (b.type === 'text' && b.text ? [b.text] : [])).join('\n');
    if (m.role === 'assistant') {
      const calls = m.blocks.flatMap((b) =>
        b.type === 'tool_call' ? [{ id: b.id, type: 'function', function: { name: b.name, arguments: JSON.stringify(b.input) } }] : [],
      );
      if (!text && calls.length === 0) continue;
      out.push({ role: 'assistant', content: text || null, ...(calls.length > 0 ? { tool_calls: calls } : {}) });
      continue;
    }
    for (const b of m.blocks) {
      if (b.type === 'tool_result') out.push({ role: 'tool', tool_call_id: b.id, content: b.isError ? `Error: ${b.content}` : b.content });
    }
    if (text) out.push({ role: 'user', content: text });
  }
  return out;
}

const STOP_REASONS: Record<string, 'end' | 'tool_use' | 'max_tokens'> = {
  stop: 'end',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  length: 'max_tokens',
};

/** The chunks seen so far of one streamed answer. */
class AnswerState {
  #model: string | undefined;
  #usage: Usage | undefined;
  #finishReason: string | undefined;
  /** Tool calls by their `index`, in order of first appearance. */
  readonly #calls = new Map<number, { id: string; name: string; args: string }>();

  /** Text as it arrives; tool calls and usage wait for `finish()`. */
  *take(data: string): Generator<ModelEvent> {
    const chunk = parseChunk(data);
    if (chunk.error !== undefined && chunk.error !== null) {
      const e = errorFields(chunk);
      throw new ProviderError('stream', e.message || `The ${WHAT} reported an error during its answer (${e.code ?? e.type ?? 'no details'}).`);
    }
    if (!this.#model && typeof chunk.model === 'string' && chunk.model) this.#model = chunk.model;
    this.#takeUsage(chunk.usage ?? (chunk.x_groq as Record<string, unknown> | undefined)?.usage);
    const choice = Array.isArray(chunk.choices) ? (chunk.choices[0] as Record<string, unknown> | undefined) : undefined;
    if (!choice) return;
    const delta = (choice.delta ?? {}) as Record<string, unknown>;
    if (typeof delta.content === 'string' && delta.content) yield { type: 'text', text: delta.content };
    if (Array.isArray(delta.tool_calls)) delta.tool_calls.forEach((piece, position) => this.#takeCallPiece(piece, position));
    if (typeof choice.finish_reason === 'string' && choice.finish_reason) this.#finishReason = choice.finish_reason;
  }

  /** After `[DONE]` (or the end of the stream): the tool calls, the usage and the end. */
  *finish(): Generator<ModelEvent> {
    if (this.#finishReason === undefined) throw new ProviderError('stream', `The ${WHAT}'s answer ended before its finish_reason.`);
    // Some local servers send no id at all; the transcript needs one to pair the result.
    for (const [index, call] of this.#calls) yield { type: 'tool_call', id: call.id || `call_${index}`, name: call.name, input: parseToolInput(call.args) };
    if (this.#usage) yield { type: 'usage', usage: this.#usage };
    const reason = this.#calls.size > 0 ? 'tool_use' : (STOP_REASONS[this.#finishReason] ?? 'other');
    yield { type: 'end', stopReason: reason, ...(this.#model ? { model: this.#model } : {}) };
  }

  /**
   * The first piece of a call carries its id and name, later ones more of
   * its arguments. A server that leaves out `index` gets one by position.
   */
  #takeCallPiece(value: unknown, position: number): void {
    if (!value || typeof value !== 'object') return;
    const piece = value as { index?: unknown; id?: unknown; function?: { name?: unknown; arguments?: unknown } };
    const index = typeof piece.index === 'number' ? piece.index : position;
    let call = this.#calls.get(index);
    if (!call) {
      call = { id: '', name: '', args: '' };
      this.#calls.set(index, call);
    }
    if (!call.id && typeof piece.id === 'string') call.id = piece.id;
    if (!call.name && typeof piece.function?.name === 'string') call.name = piece.function.name;
    if (typeof piece.function?.arguments === 'string') call.args += piece.function.arguments;
  }

  /** `prompt_tokens` includes cached tokens; Usage counts them apart. */
  #takeUsage(value: unknown): void {
    if (!value || typeof value !== 'object') return;
    const u = value as { prompt_tokens?: unknown; completion_tokens?: unknown; prompt_tokens_details?: { cached_tokens?: unknown } | null };
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
    const prompt = num(u.prompt_tokens);
    const cached = Math.min(prompt, num(u.prompt_tokens_details?.cached_tokens));
    this.#usage = { inputTokens: prompt - cached, outputTokens: num(u.completion_tokens), cacheReadTokens: cached, cacheWriteTokens: 0 };
  }
}

function parseChunk(data: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch (err) {
    throw new ProviderError('stream', `The ${WHAT} sent a chunk that is not JSON: ${data.slice(0, 200)}`, { cause: err });
  }
  if (!value || typeof value !== 'object') throw new ProviderError('stream', `The ${WHAT} sent a chunk that is not an object: ${data.slice(0, 200)}`);
  return value as Record<string, unknown>;
}
