/**
 * The Anthropic Messages API as a ModelClient: POST `${baseUrl}/v1/messages`
 * with `stream: true`, the SSE events folded into ModelEvents. `baseUrl` has
 * no `/v1` (e.g. `https://api.anthropic.com`, or the runner's bridge
 * `http://127.0.0.1:<port>/p/anthropic`).
 *
 *   const client = new AnthropicClient({ baseUrl, apiKey, model: 'claude-sonnet-4-5' });
 *   for await (const ev of client.stream({ system, messages, tools, maxTokens: 4096, signal })) ...
 */
import type { Block, ModelClient, ModelEvent, ModelRequest, ToolDef, TranscriptMessage, Usage } from '../model.ts';
import { ProviderError } from '../model.ts';
import { errorFields, streamFailure } from './errors.ts';
import { postModelRequest } from './post.ts';
import { sseEvents } from './sse.ts';
import { parseToolInput } from './tool-input.ts';
import type { ClientOptions } from './options.ts';

const WHAT = 'Anthropic API';
const API_VERSION = '2023-06-01';

export class AnthropicClient implements ModelClient {
  readonly kind = 'anthropic' as const;
  readonly model: string;
  readonly #url: string;
  readonly #apiKey: string;
  readonly #fetch: typeof fetch;

  constructor(opts: ClientOptions) {
    this.model = opts.model;
    this.#url = `${opts.baseUrl.replace(/\/+$/, '')}/v1/messages`;
    this.#apiKey = opts.apiKey;
    this.#fetch = opts.fetch ?? fetch;
  }

  async *stream(req: ModelRequest): AsyncGenerator<ModelEvent> {
    let yielded = false;
    try {
      const res = await postModelRequest({
        fetch: this.#fetch,
        url: this.#url,
        headers: { 'x-api-key': this.#apiKey, 'anthropic-version': API_VERSION },
        body: anthropicBody(this.model, req),
        signal: req.signal,
        what: WHAT,
      });
      const answer = new AnswerState();
      for await (const sse of sseEvents(res.body, req.signal, WHAT)) {
        for (const ev of answer.take(sse.event, sse.data)) {
          yielded ||= ev.type === 'text' || ev.type === 'tool_call';
          yield ev;
        }
        if (answer.finished) return;
      }
      throw new ProviderError('stream', `The ${WHAT}'s answer ended before message_stop.`);
    } catch (err) {
      throw streamFailure(err, req.signal, yielded, WHAT);
    }
  }
}

/** The request body: system as a string, tools with `input_schema`, tool calls and results as blocks. */
/**
 * The request body. Two prompt-cache breakpoints: after the system prompt
 * (so the tools and system prompt, the same every call, are cached) and on
 * the last block of the conversation (so each step reads all earlier ones
 * from the cache and only pays full price for what is new). An agent's loop
 * re-sends the whole transcript at every step; without them every step
 * would be billed as fresh input.
 */
export function anthropicBody(model: string, req: ModelRequest): Record<string, unknown> {
  const messages = anthropicMessages(req.messages);
  const lastBlock = messages.at(-1)?.content.at(-1) as Record<string, unknown> | undefined;
  if (lastBlock) lastBlock.cache_control = CACHE;
  return {
    model,
    max_tokens: req.maxTokens,
    stream: true,
    ...(req.system ? { system: [{ type: 'text', text: req.system, cache_control: CACHE }] } : {}),
    messages,
    ...(req.tools.length > 0 ? { tools: req.tools.map(anthropicTool) } : {}),
  };
}

/** The five-minute prompt cache. */
const CACHE = { type: 'ephemeral' } as const;

function anthropicTool(t: ToolDef) {
  return { name: t.name, description: t.description, input_schema: t.inputSchema };
}

/**
 * Consecutive messages of one role are merged (the API wants turns to
 * alternate), and empty text blocks dropped (the API refuses them).
 */
function anthropicMessages(messages: TranscriptMessage[]) {
  const out: Array<{ role: 'user' | 'assistant'; content: unknown[] }> = [];
  for (const m of messages) {
    const content = m.blocks.filter((b) => b.type !== 'text' || b.text.length > 0).map(anthropicBlock);
    if (content.length === 0) continue;
    const last = out.at(-1);
    if (last?.role === m.role) last.content.push(...content);
    else out.push({ role: m.role, content });
  }
  return out;
}

function anthropicBlock(b: Block) {
  switch (b.type) {
    case 'text':
      return { type: 'text', text: b.text };
    case 'tool_call':
      return { type: 'tool_use', id: b.id, name: b.name, input: b.input };
    case 'tool_result':
      return { type: 'tool_result', tool_use_id: b.id, content: b.content, ...(b.isError ? { is_error: true } : {}) };
  }
}

const STOP_REASONS: Record<string, 'end' | 'tool_use' | 'max_tokens'> = {
  end_turn: 'end',
  stop_sequence: 'end',
  tool_use: 'tool_use',
  max_tokens: 'max_tokens',
};

/** What one streamed answer has said so far; `take` turns each SSE event into the ModelEvents it completes. */
class AnswerState {
  finished = false;
  #model: string | undefined;
  #usage: Usage | undefined;
  #stopReason: string | undefined;
  /** Tool calls being streamed, by content block index. */
  readonly #calls = new Map<number, { id: string; name: string; json: string }>();

  *take(event: string | undefined, data: string): Generator<ModelEvent> {
    const msg = parse(data);
    const type = typeof msg.type === 'string' ? msg.type : event;
    switch (type) {
      case 'message_start': {
        const message = (msg.message ?? {}) as Record<string, unknown>;
        if (typeof message.model === 'string') this.#model = message.model;
        this.#addUsage(message.usage);
        return;
      }
      case 'content_block_start': {
        const block = (msg.content_block ?? {}) as Record<string, unknown>;
        if (block.type === 'tool_use') {
          this.#calls.set(Number(msg.index), { id: String(block.id ?? ''), name: String(block.name ?? ''), json: '' });
        } else if (block.type === 'text' && typeof block.text === 'string' && block.text) {
          yield { type: 'text', text: block.text };
        }
        return;
      }
      case 'content_block_delta': {
        const delta = (msg.delta ?? {}) as Record<string, unknown>;
        if (delta.type === 'text_delta' && typeof delta.text === 'string' && delta.text) yield { type: 'text', text: delta.text };
        const call = this.#calls.get(Number(msg.index));
        if (delta.type === 'input_json_delta' && call && typeof delta.partial_json === 'string') call.json += delta.partial_json;
        return;
      }
      case 'content_block_stop': {
        const call = this.#calls.get(Number(msg.index));
        if (!call) return;
        this.#calls.delete(Number(msg.index));
        yield { type: 'tool_call', id: call.id, name: call.name, input: parseToolInput(call.json) };
        return;
      }
      case 'message_delta': {
        const delta = (msg.delta ?? {}) as Record<string, unknown>;
        if (typeof delta.stop_reason === 'string') this.#stopReason = delta.stop_reason;
        this.#addUsage(msg.usage);
        return;
      }
      case 'message_stop':
        this.finished = true;
        if (this.#usage) yield { type: 'usage', usage: this.#usage };
        yield { type: 'end', stopReason: STOP_REASONS[this.#stopReason ?? ''] ?? 'other', ...(this.#model ? { model: this.#model } : {}) };
        return;
      case 'error': {
        const e = errorFields(msg);
        const kind = e.type === 'overloaded_error' ? 'overloaded' : 'stream';
        throw new ProviderError(kind, e.message || `The ${WHAT} reported ${e.type ?? 'an error'} during its answer.`);
      }
      default:
        return; // ping, thinking blocks and event types added later
    }
  }

  /**
   * Usage fields present in an event replace the earlier ones: message_delta's
   * counts are cumulative, so the last value is the answer's total.
   */
  #addUsage(value: unknown): void {
    if (!value || typeof value !== 'object') return;
    const u = value as Record<string, unknown>;
    const prev = this.#usage ?? { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };
    const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
    this.#usage = {
      inputTokens: num(u.input_tokens, prev.inputTokens),
      outputTokens: num(u.output_tokens, prev.outputTokens),
      cacheReadTokens: num(u.cache_read_input_tokens, prev.cacheReadTokens),
      cacheWriteTokens: num(u.cache_creation_input_tokens, prev.cacheWriteTokens),
    };
  }
}

function parse(data: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch (err) {
    throw new ProviderError('stream', `The ${WHAT} sent an event that is not JSON: ${data.slice(0, 200)}`, { cause: err });
  }
  if (!value || typeof value !== 'object') throw new ProviderError('stream', `The ${WHAT} sent an event that is not an object: ${data.slice(0, 200)}`);
  return value as Record<string, unknown>;
}
